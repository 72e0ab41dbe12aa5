"""Calling rules: each contact's time zone, the hours and days it may be called, and the
send-time rule that gives every request a compliant window (see ``review``)."""
