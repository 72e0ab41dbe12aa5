"""What happened to a row, in words a person understands (``bq_detail``).

The technical text (an exception, a raw reply) stays in the ledger and goes to the JSON report as
``bq_detail_technical``; a spreadsheet reader gets the sentence.

Usage::

    in_words("uncertain", "connection broken after sending (ProtocolError): IncompleteRead", None)
    # 'the connection broke after the request was sent: the call may or may not be queued'
"""

from __future__ import annotations

_MAYBE = "the call may or may not be queued"
#: (start of the technical text, the sentence), for rows Insight gave no clear answer for.
_UNCLEAR = (
    ("no reply before the read timeout", f"Insight did not answer in time: {_MAYBE}"),
    ("connection broken after sending", f"the connection broke after the request was sent: {_MAYBE}"),
    ("found 'sending'", f"the run sending it stopped before Insight's answer was recorded: {_MAYBE}"),
    ("success=false yet a call_id", f"Insight's answer contradicted itself: {_MAYBE}"),
    ("internal error while sending", f"batchqueue failed while sending it: {_MAYBE}"),
)
#: (start of the technical text, the sentence), for rows that were never accepted.
_NOT_SENT = (
    ("cannot connect", "not sent: Insight could not be reached"),
    ("TLS handshake failed", "not sent: the secure connection to Insight could not be set up"),
    ("failed before sending", "not sent: the request could not be made"),
    ("HTTP 429", "not sent: Insight kept asking to slow down (429)"),
)


def in_words(state: str, error: str | None, http_status: int | None) -> str:
    """The sentence for a row's ``error`` (rows with reasons already read as words)."""
    if not error:
        return ""
    if state == "uncertain":
        for start, sentence in _UNCLEAR:
            if error.startswith(start):
                return sentence
        if http_status is not None and http_status >= 500:
            return f"Insight answered with a server error (HTTP {http_status}): {_MAYBE}"
        return f"no clear answer from Insight: {_MAYBE}"
    if state == "failed":
        said = error
        if said.startswith(f"HTTP {http_status}"):
            said = said.split(":", 1)[1].strip() if ":" in said else ""
        code = f" (HTTP {http_status})" if http_status else ""
        return f"Insight refused the request{code}" + (f": {said}" if said else "")
    for start, sentence in _NOT_SENT:
        if error.startswith(start):
            return sentence
    return error
