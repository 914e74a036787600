"""Stage wiring: one module per stage; each reads/writes files and calls pure stage code."""
