"""The callback spool keeps every callback it acknowledged: through a full disk, damaged spool lines
and ``kill -9`` at every step, nothing acknowledged is lost and nothing is applied twice."""

from __future__ import annotations

import base64
import errno
import json
import os
import resource
import secrets
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from batchqueue.callbacks.app import CallbackApp
from batchqueue.callbacks.spool import SpoolFile
from batchqueue.http_serving import HttpServer
from tests.sandbox_helpers import ledger_rows_url, queued_job, serve_command, serve_process, served_port, wait_for

COMPLETED: dict[str, Any] = {"status": "completed", "attempts": "1", "last_attempt_timestamp": "1796133700"}
FAILED: dict[str, Any] = {**COMPLETED, "status": "failed"}


def _spool_line(row: dict[str, Any], details: dict[str, Any]) -> bytes:
    """One callback as ``serve`` spools it: a JSON object per line (batchqueue/callbacks/spool.py)."""
    record = {"row": row["id"], "token": row["token"], "details": details, "at": 1796133800.0}
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def _quarantined(folder: Path) -> list[dict[str, Any]]:
    path = folder / "quarantine.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _gauge(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} is not in /metrics")


# -- damaged spool lines ------------------------------------------------------------------------

#: What a spool line can look like after a crash, a power cut or a full disk (the damage, and
#: whether the record written right after it is glued to it, as a later append would be).
DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "a record cut short": lambda line: line[: len(line) // 2],
    "bytes that are not JSON": lambda line: b"\xff\xfe{not json\x01\x02\n",
    "a NUL run, as after a power cut": lambda line: b"\x00" * 4096,
}


@pytest.mark.parametrize("where", ["middle", "end"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_spool_line_is_quarantined_and_counted_and_the_rest_applied(
    tmp_path: Path, damage: str, where: str
) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    ledger = queued_job(url, tmp_path, 5)
    rows = ledger_rows_url(url)
    folder = tmp_path / "spool"
    folder.mkdir()
    spool_id = secrets.token_hex(8)
    intact = [_spool_line(rows[i], COMPLETED) for i in range(3)]
    damaged = DAMAGE[damage](_spool_line(rows[3], FAILED))
    header = json.dumps({"spool": spool_id}).encode() + b"\n"
    lines = [intact[0], damaged, *intact[1:]] if where == "middle" else [*intact, damaged]
    orphan = folder / f"spool-{spool_id}.jsonl"
    orphan.write_bytes(header + b"".join(lines))
    offset = len(header) + sum(len(line) for line in lines[: lines.index(damaged)])

    app = CallbackApp(ledger, folder)  # a spool nobody holds: a dead serve's, replayed now
    server = HttpServer(app, port=0).start()
    try:
        wait_for(lambda: not orphan.exists())
        health = requests.get(server.url + "/health", timeout=10).json()
        metrics = requests.get(server.url + "/metrics", timeout=10).text
    finally:
        server.stop()
        app.close()
    outcomes = [r["outcome_status"] for r in ledger_rows_url(url)]
    assert outcomes == ["completed", "completed", "completed", None, None]  # every intact record, once
    kept = _quarantined(folder)
    assert len(kept) == 1
    assert base64.b64decode(kept[0]["base64"]) == damaged  # the damaged bytes exactly as they were
    assert (kept[0]["spool"], kept[0]["offset"]) == (spool_id, offset)
    assert kept[0]["reason"]
    assert (folder / "quarantine.jsonl").stat().st_mode & 0o077 == 0
    assert health["quarantined"] == 1
    assert health["backlog"] == 0
    assert _gauge(metrics, "batchqueue_callback_quarantined") == 1

    # serve died after keeping the damage and before removing the spool: read again, kept once
    orphan.write_bytes(header + b"".join(lines))
    again = CallbackApp(ledger, folder)
    try:
        wait_for(lambda: not orphan.exists())
        assert again.spooler.quarantined == 1
    finally:
        again.close()
        ledger.close()
    assert len(_quarantined(folder)) == 1
    assert [r["outcome_status"] for r in ledger_rows_url(url)] == outcomes


def test_a_line_of_a_megabyte_without_a_newline_is_quarantined_in_bounded_memory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    ledger = queued_job(url, tmp_path, 2)
    rows = ledger_rows_url(url)
    folder = tmp_path / "spool"
    folder.mkdir()
    spool_id = secrets.token_hex(8)
    (folder / f"spool-{spool_id}.jsonl").write_bytes(
        json.dumps({"spool": spool_id}).encode() + b"\n" + b"\x00" * (8 << 20) + _spool_line(rows[1], COMPLETED)
    )
    app = CallbackApp(ledger, folder)
    try:
        wait_for(lambda: not (folder / f"spool-{spool_id}.jsonl").exists())
    finally:
        app.close()
        ledger.close()
    assert [r["outcome_status"] for r in ledger_rows_url(url)] == [None, "completed"]
    kept = _quarantined(folder)
    assert len(kept) == 1
    assert kept[0]["length"] == 8 << 20
    assert len(base64.b64decode(kept[0]["base64"])) <= 1 << 20  # the start of it, not 8 MB in memory


# -- a full disk --------------------------------------------------------------------------------


class FullDisk:
    """A disk that can be filled so that the spool's next write is cut short, and freed again."""

    def __init__(self, spool: Path) -> None:
        self.spool = spool

    def fill(self, serve_pid: int) -> None:
        raise NotImplementedError

    def free(self, serve_pid: int) -> None:
        raise NotImplementedError


class TinyFilesystem(FullDisk):
    """A 64 KiB tmpfs holding the spool folder, filled by a file of its own (needs root)."""

    def __init__(self, mount: Path) -> None:
        super().__init__(mount / "spool")
        self.filler = mount / "filler"

    def fill(self, serve_pid: int) -> None:
        with self.filler.open("wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\x00" * 4096)
            except OSError:
                pass
            try:
                while True:
                    f.write(b"\x00")
            except OSError:
                pass

    def free(self, serve_pid: int) -> None:
        self.filler.unlink()


class FileSizeLimit(FullDisk):
    """``RLIMIT_FSIZE`` on the ``serve`` process: a write past it is cut short (EFBIG), as on a full disk."""

    def fill(self, serve_pid: int) -> None:
        (spool,) = self.spool.glob("spool-*.jsonl")
        resource.prlimit(serve_pid, resource.RLIMIT_FSIZE, (spool.stat().st_size + 100, resource.RLIM_INFINITY))

    def free(self, serve_pid: int) -> None:
        resource.prlimit(serve_pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[TinyFilesystem]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the file-size-limit case covers a full disk")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the file-size-limit case covers it")
    try:
        yield TinyFilesystem(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _every_line_whole(spool: Path) -> None:
    """The spool holds only whole records: nothing cut short was left behind for the next append."""
    for path in spool.glob("spool-*.jsonl"):
        data = path.read_bytes()
        assert data.endswith(b"\n"), f"{path.name} ends in a partial write: {data[-60:]!r}"
        for line in data.splitlines():
            json.loads(line)


def test_a_write_cut_short_is_cut_off_and_the_next_one_starts_whole(tiny_filesystem: TinyFilesystem) -> None:
    """The spool file itself on a full disk (in this process, so a mutant of it is seen)."""
    spool = SpoolFile.create(tiny_filesystem.spool)
    try:
        record = {"row": 1, "token": "t" * 32, "details": COMPLETED, "at": 1796133800.0}
        line = SpoolFile.line(record)
        tiny_filesystem.fill(0)
        refused = None
        for _ in range(64):  # the last page has room for a few; one of them is cut short
            whole = spool.end
            try:
                spool.append([line, line])
            except OSError as exc:
                refused = exc
                break
        assert refused is not None
        assert refused.errno == errno.ENOSPC
        assert spool.path.stat().st_size == spool.end == whole  # nothing of the failed write is left
        with pytest.raises(OSError, match="No space left"):  # the same write again: refused again, and undone
            spool.append([line, line])
        assert spool.path.stat().st_size == whole
        tiny_filesystem.free(0)
        ends = spool.append([line])
        batch = spool.read(0)
    finally:
        spool.close()
    assert ends == [whole + len(line)]
    assert batch.damaged == []
    assert batch.end == whole + len(line)
    assert len(batch.records) == (whole - spool.header_end) // len(line) + 1


@pytest.mark.parametrize("disk", ["tmpfs of 64 KiB", "file size limit"])
def test_a_full_disk_is_answered_503_and_nothing_acknowledged_is_lost(
    tmp_path: Path, request: pytest.FixtureRequest, disk: str
) -> None:
    if disk == "tmpfs of 64 KiB":
        full: FullDisk = request.getfixturevalue("tiny_filesystem")
        url = f"sqlite:///{tmp_path / 'l.db'}"
    else:
        full = FileSizeLimit(tmp_path / "spool")
        url = str(request.getfixturevalue("postgres_url"))  # the ledger's own writes are not the serve's
    queued_job(url, tmp_path, 60).engine.dispose()
    rows = ledger_rows_url(url)
    paths = [f"/cb/{r['id']}/{r['token']}" for r in rows]
    answered: dict[int, int] = {}
    serve = serve_process(url, tmp_path / "port", full.spool)
    try:
        base = f"http://127.0.0.1:{served_port(tmp_path / 'port', serve)}"

        def send(i: int) -> requests.Response:
            reply = requests.post(base + paths[i], json=COMPLETED, timeout=30)
            answered[i] = reply.status_code
            return reply

        assert send(0).status_code == 200
        full.fill(serve.pid)
        refused = []
        for i in range(1, 40):
            reply = send(i)
            assert reply.status_code in (200, 503), reply.text
            if reply.status_code == 503:
                assert int(reply.headers["Retry-After"]) > 0
                refused.append(i)
                break
        assert refused, "the disk never filled"
        _every_line_whole(full.spool)  # the write cut short was undone before the 503 left
        assert send(refused[0] + 1).status_code == 503  # still full: still refused, never "spooled"
        refused.append(refused[0] + 1)
        _every_line_whole(full.spool)
        health = requests.get(base + "/health", timeout=10).json()
        assert health["spool_error"]
        metrics = requests.get(base + "/metrics", timeout=10).text
        assert 'batchqueue_callbacks_total{verdict="unavailable"} 2.0' in metrics
        full.free(serve.pid)

        fresh = send(refused[-1] + 1)
        assert fresh.status_code == 200
        for i in refused:  # Insight tries again later
            assert send(i).status_code == 200
        acknowledged = {i for i, code in answered.items() if code == 200}
        wait_for(lambda: {i for i, r in enumerate(ledger_rows_url(url)) if r["outcome_status"]} == acknowledged)
        health = requests.get(base + "/health", timeout=10).json()
        assert (health["backlog"], health["quarantined"], health["spool_error"]) == (0, 0, None)
        serve.send_signal(signal.SIGKILL)
        serve.communicate(timeout=10)
        again = serve_process(url, tmp_path / "port2", full.spool)  # a restart replays, applies nothing twice
        try:
            served_port(tmp_path / "port2", again)
            wait_for(lambda: len(list(full.spool.glob("spool-*.jsonl"))) == 1)
        finally:
            again.send_signal(signal.SIGINT)
            _out, err = again.communicate(timeout=10)
        assert "Traceback" not in err
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.communicate(timeout=10)
    assert {i for i, r in enumerate(ledger_rows_url(url)) if r["outcome_status"]} == acknowledged
    assert _quarantined(full.spool) == []


@pytest.mark.parametrize("disk", ["tmpfs of 64 KiB", "file size limit"])
def test_serve_on_a_full_disk_says_so_and_exits_5(tmp_path: Path, request: pytest.FixtureRequest, disk: str) -> None:
    """The disk is full before `serve` starts: a clear message and exit 5 (the machine failed)."""
    if disk == "tmpfs of 64 KiB":
        tiny: TinyFilesystem = request.getfixturevalue("tiny_filesystem")
        url = f"sqlite:///{tmp_path / 'l.db'}"
        tiny.fill(0)
        spool, limit = tiny.spool, "unlimited"
    else:
        url = str(request.getfixturevalue("postgres_url"))
        spool, limit = tmp_path / "spool", "0"
    queued_job(url, tmp_path, 1).engine.dispose()
    serve = subprocess.run(
        ["bash", "-c", f'ulimit -f {limit} && exec "$@"', "serve", *serve_command(url, tmp_path / "p", spool)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert serve.returncode == 5, serve.stderr
    assert "cannot write the callback spool" in serve.stderr
    assert "Traceback" not in serve.stderr
    assert list(spool.glob("spool-*.jsonl")) == []  # no spool file cut short left behind


# -- kill -9 between spooling, applying and storing the position ----------------------------------


class LedgerView:
    """The test's own view of an SQLite ledger: what was applied, and its write lock."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def outcomes(self) -> dict[int, tuple[str | None, int]]:
        with sqlite3.connect(self.db) as conn:
            return {i: (s, c) for i, s, c in conn.execute("SELECT id, outcome_status, outcome_conflicts FROM rows")}

    def events(self) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        with sqlite3.connect(self.db) as conn:
            for row_id, verdict in conn.execute("SELECT row_id, verdict FROM outcome_events ORDER BY id"):
                found.setdefault(row_id, []).append(verdict)
        return found

    def applied(self, ids: list[int]) -> bool:
        now = self.outcomes()
        return all(now[i] == ("completed", 1) for i in ids)

    def untouched(self, ids: list[int]) -> bool:
        now = self.outcomes()
        return all(now[i] == (None, 0) for i in ids)

    def locked_for(self, seconds: float) -> bool:
        """Whether someone holds the write lock for ``seconds`` without a break (probed every 50 ms)."""
        since = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            conn = sqlite3.connect(self.db, timeout=0, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                since = None
            except sqlite3.OperationalError:
                since = since or time.monotonic()
                if time.monotonic() - since >= seconds:
                    return True
            finally:
                conn.close()
            time.sleep(0.05)
        return False


#: A statement that runs for minutes (8e9 rows of a cross join), to hold a transaction open.
_SLOW = "SELECT count(*) FROM stall_n a, stall_n b, stall_n c"


def _stall(db: Path, table: str) -> None:
    """Make every write to ``table`` take minutes, inside the writer's transaction."""
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE stall_n (x INTEGER)")
        conn.executemany("INSERT INTO stall_n VALUES (?)", [(i,) for i in range(2000)])
        for op in ("INSERT", "UPDATE"):
            trigger = f"CREATE TRIGGER stall_{op.lower()} AFTER {op} ON {table} BEGIN {_SLOW}; END"
            conn.execute(trigger)


def _unstall(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER stall_insert")
        conn.execute("DROP TRIGGER stall_update")
        conn.execute("DROP TABLE stall_n")


@pytest.mark.slow
@pytest.mark.parametrize("stalled", ["outcome_events", "spool_positions"])
def test_the_applied_position_survives_kill_9_at_every_step(tmp_path: Path, stalled: str) -> None:
    """Each row gets "completed" then "failed" (a conflict the ledger counts: applied twice, it
    would count 2; skipped, 0). serve is killed with SIGKILL between spooling and applying, inside
    the transaction that applies and stores the position, and after applying a group."""
    db = tmp_path / "l.db"
    queued_job(f"sqlite:///{db}", tmp_path, 20).engine.dispose()
    rows = ledger_rows_url(f"sqlite:///{db}")
    ids = [r["id"] for r in rows]
    ledger = LedgerView(db)
    spool = tmp_path / "spool"
    servers: list[subprocess.Popen[str]] = []

    def start() -> str:
        proc = serve_process(db, tmp_path / f"port{len(servers)}", spool)
        servers.append(proc)
        return f"http://127.0.0.1:{served_port(tmp_path / f'port{len(servers) - 1}', proc)}"

    def send(base: str, span: range) -> None:
        for i in span:
            for details in (COMPLETED, FAILED):
                reply = requests.post(f"{base}/cb/{rows[i]['id']}/{rows[i]['token']}", json=details, timeout=30)
                assert reply.status_code == 200, reply.text

    def kill(proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)

    def while_locked(action: Callable[[], object]) -> None:
        holder = sqlite3.connect(db, timeout=1, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            action()
        finally:
            holder.execute("ROLLBACK")
            holder.close()

    try:
        first = start()
        send(first, range(5))
        wait_for(lambda: ledger.applied(ids[:5]))

        def spool_then_kill() -> None:
            send(first, range(5, 10))
            kill(servers[0])

        while_locked(spool_then_kill)  # spooled, never applied
        assert ledger.untouched(ids[5:10])

        _stall(db, stalled)
        start()  # replays the dead serve's spool, and stalls inside the transaction that applies it
        assert ledger.locked_for(1.0), "serve never started applying the spool"
        kill(servers[1])
        assert ledger.untouched(ids[5:10])  # nothing half-applied
        _unstall(db)

        third = start()
        wait_for(lambda: ledger.applied(ids[:10]))
        while_locked(lambda: send(third, range(10, 15)))  # one group, applied once the lock is gone
        wait_for(lambda: ledger.applied(ids[:15]))
        kill(servers[2])

        fourth = start()
        send(fourth, range(15, 20))
        wait_for(lambda: ledger.applied(ids) and len(list(spool.glob("spool-*.jsonl"))) == 1)
        servers[3].send_signal(signal.SIGINT)
        _out, err = servers[3].communicate(timeout=10)
        assert "Traceback" not in err
    finally:
        for proc in servers:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
    assert ledger.outcomes() == {i: ("completed", 1) for i in ids}
    assert ledger.events() == {i: ["recorded", "conflict"] for i in ids}
