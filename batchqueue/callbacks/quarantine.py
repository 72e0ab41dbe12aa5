"""The quarantine: stretches of spool files that are no record, kept instead of skipped.

A spool line torn by a crash, bytes that are not JSON, or the NUL run a power cut leaves cannot be
applied; they are copied to ``<spool folder>/quarantine.jsonl`` (0600, like the spool: the bytes
may hold a callback's token) before the spool moves past them, and counted in ``/health`` and
``/metrics``. One JSON object per line: ``spool`` (the spool file's id), ``offset`` and ``length``
(where in it), ``reason``, ``base64`` (the bytes, at most the first MiB of them), ``at`` (when).
A stretch is kept once, however often its spool is read again (after a crash of ``serve``).

Usage::

    quarantine = Quarantine(folder)
    quarantine.keep(spool.id, batch.damaged)     # OSError if it cannot be written: try again later
    quarantine.count
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from batchqueue.callbacks.spool import MAX_LINE, Damaged, append_lines

log = logging.getLogger(__name__)

QUARANTINE_FILE = "quarantine.jsonl"


class Quarantine:
    """Unreadable stretches of this folder's spool files, each kept (and counted) once."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / QUARANTINE_FILE
        self._kept = self._load()

    @property
    def count(self) -> int:
        """How many damaged stretches the quarantine file holds."""
        return len(self._kept)

    def _load(self) -> set[tuple[str, int]]:
        kept: set[tuple[str, int]] = set()
        try:
            with self.path.open("rb") as f:
                while line := f.readline(4 * MAX_LINE):
                    try:
                        entry = json.loads(line)
                        kept.add((str(entry["spool"]), int(entry["offset"])))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line of its own cut short: not counted, and never in the way
        except FileNotFoundError:
            pass
        return kept

    def keep(self, spool_id: str, damaged: Sequence[Damaged]) -> None:
        """Append what is not kept yet, fsynced; OSError (and nothing kept) if it cannot be written."""
        new = [d for d in damaged if (spool_id, d.offset) not in self._kept]
        if not new:
            return
        stamp = time.time()
        data = b"".join(
            json.dumps(
                {
                    "spool": spool_id,
                    "offset": d.offset,
                    "length": d.length,
                    "reason": d.reason,
                    "base64": base64.b64encode(d.data).decode(),
                    "at": stamp,
                }
            ).encode()
            + b"\n"
            for d in new
        )
        append_lines(self.path, data)
        for d in new:
            self._kept.add((spool_id, d.offset))
            log.error(
                "%d unreadable byte(s) at %d of callback spool %s (%s): kept in %s, not applied",
                d.length,
                d.offset,
                spool_id,
                d.reason,
                self.path,
            )
