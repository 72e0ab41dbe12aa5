"""What every reader yields: the source's description, its header and its rows as text."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

#: One data row: (row number as a spreadsheet program shows it, cells aligned with the header,
#: non-empty cells found beyond the header's last column).
RawRow = tuple[int, list[str], list[str]]


@dataclass
class SourceInfo:
    """Facts about the input file that the ledger keeps and the CLI shows."""

    path: str
    kind: str
    sha256: str
    size: int
    encoding: str | None = None
    encoding_note: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)


class Table(Protocol):
    """A readable spreadsheet: header known up front, rows streamed once."""

    info: SourceInfo
    headers: list[str]
    warnings: list[str]
    header_row: int
    skipped: list[Any]

    @property
    def blank_rows(self) -> int:
        """Fully blank rows seen so far (final once the rows have been read)."""
        ...

    def rows(self) -> Iterator[RawRow]:
        """Data rows in file order; fully blank rows are skipped and counted in ``blank_rows``."""
        ...

    def progress(self) -> tuple[int, int]:
        """(done, total) in the reader's own unit, for a progress bar."""
        ...

    def close(self) -> None:
        """Let the file go (also done once the rows have been read)."""
        ...

    def __enter__(self) -> Table: ...

    def __exit__(self, *exc: object) -> None: ...
