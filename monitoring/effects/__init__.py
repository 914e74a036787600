"""Effects: trends over periods, intervention effects and drift. Pure functions on aggregate and
score frames; publishing (monitoring.publishing) shows what they find."""
