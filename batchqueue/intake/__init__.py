"""Intake: spreadsheets read (``sheets``), mapped to request fields (``mapping``) and loaded as jobs (``importer``)."""
