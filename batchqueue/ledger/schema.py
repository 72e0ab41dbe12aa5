"""The ledger's tables. The Alembic migrations in ``migrations/`` build exactly these (a test checks).

Times are unix seconds (REAL): cheap to write a million of, easy to compare, formatted on export.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, UniqueConstraint, text

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("survey_id", String(64), nullable=False),
    Column("instance_id", String(64), nullable=False),
    Column("source_name", Text, nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("source_kind", String(8), nullable=False),
    Column("sheet", Text),
    Column("encoding", String(32)),
    Column("delimiter", String(4)),
    Column("headers", Text, nullable=False, comment="JSON list of the header names"),
    Column("mapping", Text, nullable=False, comment="JSON of the effective mapping"),
    Column("fingerprint", String(64), nullable=False, comment="sha256 of the effective mapping"),
    Column("options", Text, nullable=False, server_default="{}", comment="JSON of job options"),
    Column("blank_rows", Integer, nullable=False, server_default="0"),
    Column("created_at", Float, nullable=False),
    Column("submit_token", String(64), comment="the console form submission that made it (recycle)"),
    Column("archived_at", Float, comment="when it was archived; NULL: not archived"),
    Column("deleted_at", Float, comment="when its rows were deleted (the id is never used again); NULL: not"),
    Index("ix_jobs_source", "source_sha256", "survey_id", "instance_id", "fingerprint"),
    # A form submitted twice finds the job its first submission made (``ledger/waves``).
    Index("ix_jobs_submit_token", "submit_token", unique=True),
)

rows = Table(
    "rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("row_number", Integer, nullable=False, comment="as a spreadsheet program numbers it"),
    Column("cells", Text, nullable=False, comment="JSON list of the original cells, as text"),
    Column("phone_number", Text, comment="tel:+E164[;ani=…][;postd=…] as sent"),
    Column("e164", String(20)),
    Column("start_ts", Integer),
    Column("end_ts", Integer),
    Column("max_attempts", Integer),
    Column("reattempt_wait", Integer),
    Column("result_url", Text),
    Column("state", String(16), nullable=False),
    Column("reasons", Text, comment="JSON list of [column, reason] for invalid rows"),
    Column("duplicate_of", Integer, comment="row_number of the first row with this number"),
    Column("token", String(32), comment="per-row secret for the result_url callback"),
    Column("call_id", Text),
    Column("error", Text),
    Column("http_status", Integer),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float),
    Column("outcome_status", String(64), comment="latest call status Insight reported; a final one stands"),
    Column("outcome_attempts", Integer),
    Column("outcome_last_attempt_at", Integer, comment="unix seconds, from Insight"),
    Column("outcome_source", String(16), comment="how it was learned: callback, poll"),
    Column("outcome_at", Float, comment="when batchqueue learned it"),
    Column("outcome_payload", Text, comment="the full call_details received, as JSON"),
    Column("resolution", Text, comment="how an uncertain row was settled, and by what"),
    Column("lease_owner", String(96), comment="the worker sending this row"),
    Column("lease_expires", Float, comment="unix seconds; an expired lease on a sending row means uncertain"),
    Column(
        "outcome_conflicts",
        Integer,
        nullable=False,
        server_default="0",
        comment="later outcomes that differed from the first final one (kept in outcome_events)",
    ),
    Column("facts", Text, comment="JSON of what import-time rules derived"),
    Column("not_before", Float, comment="a send-time rule holds it pending until then"),
    Column("hold_reason", Text, comment="why it is held"),
    Column("hold_detail", Text, comment="this hold's particulars"),
    Column("sent_start_ts", Integer, comment="the start a send-time rule gave it"),
    Column("sent_end_ts", Integer, comment="the end a send-time rule gave it"),
    Column("sent_timezone", Text, comment="the zone(s) its calling window was set in"),
    Column("timezone_source", String(16), comment="column, zip, number, default or region"),
    Column("sent_states", Text, comment="every US state its contact may be in"),
    Column("sent_places", Text, comment="each source of its zones and states, and what it named"),
    Column("taken_by_wave", Integer, comment="the wave (job id) recycle took this row into"),
    Index("ix_rows_job_state", "job_id", "state"),
    # Held rows only (a send-time rule set not_before): counted by reason without reading every pending row.
    Index(
        "ix_rows_held",
        "job_id",
        "state",
        "hold_reason",
        "not_before",
        sqlite_where=text("not_before IS NOT NULL"),
        postgresql_where=text("not_before IS NOT NULL"),
    ),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(96), primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("sent", Integer, nullable=False, server_default="0"),
    Column("rate", Float, nullable=False, server_default="0", comment="requests/s since the last heartbeat"),
    Column("stopped_at", Float),
    Column("slowed_by", String(16), comment="429, 5xx or retry_after while its pace is down because of it"),
)

pacing = Table(
    "pacing",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("next_at", Float, nullable=False, comment="unix seconds of the job's next free request slot"),
)

claim_budgets = Table(
    "claim_budgets",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("limit_rows", Integer, nullable=False, comment="rows the workers of this test send may claim"),
    Column("claimed", Integer, nullable=False, server_default="0", comment="rows they claimed so far"),
    Column("members", Text, nullable=False, comment="the ids of the workers sharing it, one a line"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("row_id", Integer, ForeignKey("rows.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("outcome", String(16), comment="the reply class (docs/ARCHITECTURE.md, replies)"),
    Column("http_status", Integer),
    Column("call_id", Text),
    Column("error", Text),
    Index("ix_attempts_row_id", "row_id"),
    # A job's requests by time: the rate over the last seconds, counted exactly (and a job's deletion).
    Index("ix_attempts_job_started", "job_id", "started_at"),
)

outcome_events = Table(
    "outcome_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("row_id", Integer, ForeignKey("rows.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("source", String(16), nullable=False, comment="callback or poll"),
    Column("status", String(64), comment="the call status reported; empty for an unreadable report"),
    Column("verdict", String(16), nullable=False, comment="recorded, conflict (after a final outcome) or error"),
    Column("detail", Text, comment="what was wrong with an unreadable report"),
    Column("payload", Text, comment="the report as received, as JSON"),
    Index("ix_outcome_events_row_id", "row_id"),
)

spool_positions = Table(
    "spool_positions",
    metadata,
    Column("spool_id", String(64), primary_key=True, comment="a callback spool file's own id"),
    Column("position", Integer, nullable=False, comment="bytes of it applied to this ledger"),
    Column("updated_at", Float, nullable=False),
)

dnc_entries = Table(
    "dnc_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_name", String(64), nullable=False, comment="the do-not-call list it is on"),
    Column("e164", String(20), nullable=False, comment="the number, +E.164"),
    Column("added_at", Float, nullable=False),
    Column("source", Text, comment="the file it was imported from, or 'added by hand'"),
    # Number first: the one index serves both "is it listed?" and "is it on this list already?".
    UniqueConstraint("e164", "list_name", name="uq_dnc_entries_e164"),
)

contact_marks = Table(
    "contact_marks",
    metadata,
    Column("e164", String(20), primary_key=True, comment="a number, +E.164"),
    Column("job_id", Integer, nullable=False, comment="the job that last claimed it for sending"),
    Column("row_number", Integer, nullable=False, comment="that job's row"),
    Column("contacted_at", Float, nullable=False, comment="when it was claimed (unix seconds)"),
    Column("last_call_at", Float, comment="the latest moment its calls may be placed"),
)

contact_log = Table(
    "contact_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("e164", String(20), nullable=False, comment="a number, +E.164"),
    Column("job_id", Integer, nullable=False, comment="the job that claimed it for sending"),
    Column("contacted_at", Float, nullable=False, comment="when (unix seconds)"),
    Column("row_number", Integer, comment="that job's row, when known"),
    Column(
        "calls",
        Integer,
        nullable=False,
        server_default="1",
        comment="calls Insight may place for this claim (its max_attempts)",
    ),
    Column("last_call_at", Float, comment="the latest moment one of them may be placed"),
    Column("states", Text, comment="the US states the claim was decided under: FL NY"),
    Index("ix_contact_log_e164_at", "e164", "contacted_at"),
)

#: Rows of each job by state and by outcome, kept by triggers (migration 0009) as appended
#: +n/-n deltas, summed on read and folded now and then (``ledger/tallies``): a job's counts
#: without counting its rows.
row_tallies = Table(
    "row_tallies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, nullable=False),
    Column("kind", String(8), nullable=False, comment="state or outcome"),
    Column("value", String(64), nullable=False, comment="the state, or the outcome status"),
    Column("n", Integer, nullable=False, comment="rows added (or, negative, taken away)"),
    Index("ix_row_tallies_job_id", "job_id", "kind", "value"),
)

console_users = Table(
    "console_users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", Text, nullable=False, comment="argon2id; never the password"),
    Column("created_at", Float, nullable=False),
    Column(
        "session_version",
        Integer,
        nullable=False,
        server_default="0",
        comment="sessions carry it; raised to end them all (logout, new password)",
    ),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("action", String(32), nullable=False, comment="import, run, pause, cancel, export…"),
    Column("job_id", Integer, comment="the job it concerned, if one"),
    Column("detail", Text, nullable=False, server_default="", comment="what, in words (never a secret)"),
    Index("ix_audit_events_job_id", "job_id"),
)

#: Every visit of an Insight saved survey report (``batchqueue answers``), one per visit, kept so
#: that a later fetch (narrowed by --since) still joins every visit known, and updated when
#: Insight's copy changes (a visit completed since). Web, inbound and unreadable visits are kept
#: too (without a number), so that every visit is accounted for.
survey_visits = Table(
    "survey_visits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("report_id", String(64), nullable=False, comment="the saved report it was read from"),
    Column("visit_key", String(64), nullable=False, comment="sha256 of what identifies the visit"),
    Column("kind", String(16), nullable=False, comment="outbound, inbound, web, other or unreadable"),
    Column("survey_id", Text, comment="as the report wrote it"),
    Column("visit_type", Text, comment="the Visit Type cell, as written"),
    Column("phone", Text, comment="the Phone Number cell, as written"),
    Column("e164", String(20), comment="that number, read as the job reads its numbers (outbound visits)"),
    Column("start_ts", Float, comment="the visit's Start, unix seconds"),
    Column("end_ts", Float, comment="its End, unix seconds"),
    Column("completed", Text, comment="the Completed cell, as written"),
    Column("answers", Text, nullable=False, comment="JSON object: question -> answer, exactly as written"),
    Column("problem", Text, comment="why an unreadable visit could not be read"),
    Column("fetched_at", Float, nullable=False, comment="when it was last read"),
    UniqueConstraint("report_id", "visit_key", name="uq_survey_visits_report_id"),
    Index("ix_survey_visits_report_e164", "report_id", "e164"),
)

#: Which visit each row's call gave (the join of ``batchqueue answers``), or why none was joined.
row_answers = Table(
    "row_answers",
    metadata,
    Column("row_id", Integer, ForeignKey("rows.id", ondelete="CASCADE"), primary_key=True),
    Column("job_id", Integer, nullable=False),
    Column("visit_id", Integer, ForeignKey("survey_visits.id", ondelete="CASCADE"), comment="none when ambiguous"),
    Column("note", Text, comment="why no visit (or which of several) was joined, in words"),
    Index("ix_row_answers_job_id", "job_id"),
)
