"""What a console form (or an API call's JSON) says, turned into the service layer's requests."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.utils import secure_filename

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.service.supervised import RunOptions

_UPLOAD_ID_LENGTH = 22
KINDS = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods")


def _text(form: Mapping[str, Any], key: str) -> str | None:
    value = form.get(key)
    value = str(value).strip() if value is not None else ""
    return value or None


def _list(form: MultiDict[str, Any] | Mapping[str, Any], key: str) -> list[str]:
    if isinstance(form, MultiDict):
        values = form.getlist(key)
    else:
        found = form.get(key)
        values = found if isinstance(found, list) else ([found] if found else [])
    return [str(v).strip() for v in values if str(v).strip()]


def spec_from(form: MultiDict[str, Any] | Mapping[str, Any]) -> MappingSpec:
    """The mapping a check page's dropdowns (or an API body) chose; unset fields are detected."""
    header_row = _text(form, "header_row")
    if header_row is not None and not header_row.isdigit():
        raise UsageError(f"header row {header_row!r}: give the spreadsheet's row number, such as 3")
    phones = {c.strip() for c in (_text(form, "phone_column") or "").split(",")}
    metadata = [c for c in _list(form, "metadata") if c not in phones]  # a new phone column is no metadata
    choose_metadata = _text(form, "metadata_chosen") is not None  # the form's metadata boxes were shown
    return MappingSpec().overridden_by(
        phone_column=_text(form, "phone_column"),
        region=_text(form, "region"),
        region_column=_text(form, "region_column"),
        timezone_column=_text(form, "timezone_column"),
        sheet=_text(form, "sheet"),
        header_row=int(header_row) if header_row else None,
        metadata=tuple(metadata) if metadata or choose_metadata else None,
        no_metadata=True if choose_metadata and not metadata else None,
    )


def run_options(form: Mapping[str, Any], public_url: str | None) -> RunOptions:
    try:
        concurrency = int(_text(form, "concurrency") or DEFAULTS.console_concurrency)
        rate = _text(form, "rate")
        return RunOptions(
            concurrency=max(1, min(concurrency, 64)),
            rate=float(rate) if rate is not None else None,
            hold_until_window=_text(form, "hold_until_window") is not None,
            public_url=public_url,
        )
    except ValueError:
        raise UsageError("concurrency and rate must be numbers") from None


def save_upload(upload: FileStorage | None, folder: Path) -> tuple[str, Path]:
    """An uploaded spreadsheet stored under a fresh, unguessable id; (id, path)."""
    if upload is None or not upload.filename:
        raise UsageError("choose a CSV or Excel file to upload")
    name = secure_filename(upload.filename) or "upload.csv"
    if not name.lower().endswith(KINDS):
        raise UsageError(
            f"{upload.filename}: upload a CSV, TSV, Excel or OpenDocument spreadsheet ({', '.join(KINDS)})"
        )
    upload_id = secrets.token_urlsafe(16)[:_UPLOAD_ID_LENGTH]
    (folder / upload_id).mkdir(parents=True)
    path = folder / upload_id / name
    upload.save(path)
    return upload_id, path


def uploaded(folder: Path, upload_id: str) -> Path:
    """The file stored under ``upload_id`` (a UsageError for an id that names none)."""
    if len(upload_id) != _UPLOAD_ID_LENGTH or not all(c.isalnum() or c in "-_" for c in upload_id):
        raise UsageError("no such upload")
    found = sorted((folder / upload_id).glob("*")) if (folder / upload_id).is_dir() else []
    if not found:
        raise UsageError("no such upload (uploads are kept until the console's folder is cleaned)")
    return found[0]
