"""Learning outcomes: result_url callbacks (served, spooled, applied), polling and reconciliation."""
