"""Columns to request fields: phone, time and attempt normalization, per-row validation.

The package is imported for its parts (``spec``, ``resolve``, ``validate``…), never as a whole, so
that reading a mapping option does not load the phone-number data.

Usage::

    resolved = resolve(MappingSpec(region="US"), table.headers, now=int(time.time()))
    validator = RowValidator(resolved, table.headers, now)
    request, reasons, facts = validator.check(cells, overflow)
"""
