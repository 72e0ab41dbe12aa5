"""How the front ends read and show the values users type: periods, and text from outside.

Re-exported here so that the command line and the console reach them through the service layer.
Light: importing this module loads nothing but the standard library.
"""

from __future__ import annotations

from batchqueue.periods import OFF as RECONTACT_OFF
from batchqueue.periods import parse_period
from batchqueue.untrusted import INT64_MAX, printable

__all__ = ["INT64_MAX", "RECONTACT_OFF", "parse_period", "printable"]
