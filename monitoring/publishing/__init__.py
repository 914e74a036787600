"""Publishing: area aggregates with uncertainty, disclosure control, the export writer, the output
check and the dashboard. Only what passed disclosure control leaves through here."""
