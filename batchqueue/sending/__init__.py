"""Sending: the submitter (claims, paces, sends, records), its locks and leases."""
