"""Jobs made from the same file: a file imported again for the same survey and instance under
another mapping (one metadata box toggled, or ``--new-job``) is another job of the same contacts.

Such jobs are each other's *relatives* (a job's own waves, which are why it recycles, are not).
The import says how many numbers it shares with each (:func:`shared_numbers`), and the re-contact
rule (:mod:`batchqueue.ledger.contacts`) never lets one call a number a relative has claimed, at
import and in every claim, whenever either was sent: both are the same campaign's list.

Usage::

    relatives = same_file_jobs(conn, job_id, family=(1,))    # (4, 7)
    shared_numbers(conn, job_id, relatives)                  # {4: 30, 7: 12}
"""

from __future__ import annotations

from sqlalchemy import Connection

from batchqueue.ledger.batchsql import in_list, placeholder


def same_file_jobs(conn: Connection, job_id: int, family: tuple[int, ...] = ()) -> tuple[int, ...]:
    """The other jobs made from the job's file (its bytes) for its survey and instance, but for
    ``family`` (the job's earlier waves), oldest first. One indexed lookup (``ix_jobs_source``)."""
    mark = placeholder(conn)
    found = conn.exec_driver_sql(
        "SELECT o.id FROM jobs j JOIN jobs o ON o.source_sha256 = j.source_sha256 "
        f"AND o.survey_id = j.survey_id AND o.instance_id = j.instance_id WHERE j.id = {mark} AND o.id <> {mark} "
        "ORDER BY o.id",
        (job_id, job_id),
    ).all()
    return tuple(i for (i,) in found if i not in family)


def shared_numbers(conn: Connection, job_id: int, relatives: tuple[int, ...]) -> dict[int, int]:
    """Each relative → how many of the job's numbers it holds too (relatives sharing none are left out)."""
    if not relatives:
        return {}
    mark = placeholder(conn)
    found = conn.exec_driver_sql(
        f"SELECT o.job_id, COUNT(DISTINCT o.e164) FROM rows o WHERE o.job_id IN {in_list(conn, len(relatives))} "
        f"AND o.e164 IN (SELECT n.e164 FROM rows n WHERE n.job_id = {mark} AND n.e164 IS NOT NULL) "
        "GROUP BY o.job_id ORDER BY o.job_id",
        (*relatives, job_id),
    ).all()
    return {int(j): int(n) for j, n in found if n}
