"""A claimed row as the queue endpoint's form fields (docs/ARCHITECTURE.md, "The wire format")."""

from __future__ import annotations

from batchqueue.callback_urls import callback_url
from batchqueue.ledger import Claimed


class FormBuilder:
    """Usage: ``FormBuilder(job.headers, metadata_columns, public_url).form(claimed)``."""

    def __init__(self, headers: list[str], metadata: list[str], public_url: str | None) -> None:
        index = {name: i for i, name in enumerate(headers)}
        self._metadata = [(name, index[name]) for name in metadata if name in index]
        self._public_url = public_url.rstrip("/") if public_url else None

    def result_url(self, row: Claimed) -> str | None:
        """The row's own result_url if the file gave one, else the callback URL with its token."""
        if row.result_url:
            return row.result_url
        if self._public_url and row.token:
            return callback_url(self._public_url, row.row_id, row.token)
        return None

    def form(self, row: Claimed) -> list[tuple[str, str]]:
        fields = [("phone_number", row.phone_number)]
        if row.start_ts is not None:
            fields.append(("start_timestamp", str(row.start_ts)))
        if row.end_ts is not None:
            fields.append(("end_timestamp", str(row.end_ts)))
        if row.max_attempts is not None:
            fields.append(("max_attempts", str(row.max_attempts)))
        if row.reattempt_wait is not None:
            fields.append(("reattempt_wait", str(row.reattempt_wait)))
        cells = row.cells
        for name, at in self._metadata:
            value = cells[at] if at < len(cells) else ""
            if value != "":
                fields.append((f"metadata[{name}]", value))  # PHP-style, as http_build_query sends it
        url = self.result_url(row)
        if url:
            fields.append(("result_url", url))
        return fields
