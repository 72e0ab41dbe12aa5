"""Time zones as users write them, and as the front ends show a contact's zone."""

from __future__ import annotations

from batchqueue.calling.zones import display_zone
from batchqueue.intake.mapping.times import canonical_zone, zone

__all__ = ["canonical_zone", "display_zone", "zone"]
