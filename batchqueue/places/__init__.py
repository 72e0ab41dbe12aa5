"""Where a contact may be: area codes, ZIP codes and time-zone cells to states and zones.

A base package: it imports nothing from intake, calling, reports or the ledger, and all of them use
it. Nothing is loaded at import time; each table is read (and cached) on first use.

- :mod:`batchqueue.places.zone_names`: a zone named as a person writes it (IANA, ``EST``, ``UTC-5``)
  to the zone batchqueue stores, and its ``tzinfo``;
- :mod:`batchqueue.places.area_codes`: a NANP area code to its states and zones (``data/nanp_area_codes.csv``);
- :mod:`batchqueue.places.zips`: a US ZIP code to its zone and state (the ``zipcodes`` package's data);
- :mod:`batchqueue.places.states`: a state column's cell (``FL``, ``Florida``) to a USPS state code;
- :mod:`batchqueue.places.contacts`: every zone and state a contact may be in, and which source named each.
"""
