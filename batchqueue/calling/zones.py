"""Where a contact may be: moved to :mod:`batchqueue.places.contacts` (kept here while other
branches still import it from calling)."""

from batchqueue.places.contacts import ContactZone, PlaceSource, ZoneFinder, country_zones, display_zone

__all__ = ["ContactZone", "PlaceSource", "ZoneFinder", "country_zones", "display_zone"]
