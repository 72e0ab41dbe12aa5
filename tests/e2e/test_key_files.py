"""Where a profile keeps its key: a file only its owner can read, holding one line, read in bounded
time and memory; a key that cannot be used is reported with the file (or variable) it came from,
and its bytes never appear in a message."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from batchqueue.sandbox import Sandbox
from tests.conftest import CliResult
from tests.key_trap import KeyTrap
from tests.sandbox_helpers import contacts

Run = Callable[..., CliResult]


def _profile_with_key_file(folder: Path, url: str, key_file: Path | str) -> Path:
    path = folder / "batchqueue.toml"
    path.write_text(f'[profiles.p]\nbase_url = "{url}"\nuser = "me@example.org"\napi_key_file = "{key_file}"\n')
    return path


def _key_file(tmp_path: Path, content: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "insight.key"
    path.write_bytes(content)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("mode", "who"),
    [
        (0o640, "its group can read it"),
        (0o604, "others can read it"),
        (0o644, "its group can read it"),
        (0o660, "its group can read it"),
        (0o620, "its group can write it"),
        (0o602, "others can write it"),
        (0o610, "its group can run it"),
        (0o601, "others can run it"),
    ],
)
def test_a_key_file_anyone_but_its_owner_may_use_is_refused(tmp_path: Path, run_cli: Run, mode: int, who: str) -> None:
    assert run_cli("import", contacts(tmp_path / "c.csv", 1), "--survey", "1", "--instance", "1").code == 0
    with KeyTrap() as trap:
        key_file = _key_file(tmp_path, b"s3cret-shared-key\n", mode)
        _profile_with_key_file(tmp_path, trap.url, key_file)
        done = run_cli("run", "1", "--profile", "p")
        assert done.code == 2, done.err
        assert f"api_key_file {key_file} has mode {mode:04o} ({who}); make it 0600 (chmod 600 {key_file})" in done.err
        assert trap.passwords == []
        link = tmp_path / "link.key"
        link.symlink_to(key_file)
        _profile_with_key_file(tmp_path, trap.url, link)
        linked = run_cli("run", "1", "--profile", "p")
        assert linked.code == 2
        assert f"has mode {mode:04o}" in linked.err
        assert trap.passwords == []
    assert "s3cret-shared-key" not in done.err + linked.err


def test_a_key_file_only_its_owner_can_read_is_used(tmp_path: Path, run_cli: Run) -> None:
    assert run_cli("import", contacts(tmp_path / "c.csv", 2), "--survey", "4242", "--instance", "1").code == 0
    with Sandbox() as sb:
        for mode in (0o600, 0o400):
            key_file = _key_file(tmp_path, sb.config.key.encode() + b"\r\n", 0o600)
            key_file.chmod(mode)
            (tmp_path / "batchqueue.toml").write_text(
                f'[profiles.p]\nbase_url = "{sb.api_url}"\nuser = "{sb.config.user}"\napi_key_file = "{key_file}"\n'
            )
            done = run_cli("run", "1", "--profile", "p", "--rate", "0", "--limit", "1")
            assert done.code == 0, done.err
            key_file.unlink()
        assert len(sb.app.store.dump()) == 2


def _fifo(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "key.fifo"
    os.mkfifo(path, 0o600)
    return path, "is a named pipe (FIFO), not a regular file"


def _socket(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "key.sock"
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))  # the socket stays in the folder after it is closed
    path.chmod(0o600)
    return path, "is a socket, not a regular file"


def _folder(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "keys"
    path.mkdir(mode=0o700)
    return path, "is a folder, not a regular file"


def _device(name: str) -> Callable[[Path], tuple[Path, str]]:
    def make(tmp_path: Path) -> tuple[Path, str]:
        return Path(name), "is a device, not a regular file"

    return make


def _private_link_to_device(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "zero.key"
    path.symlink_to("/dev/zero")
    return path, "is a device, not a regular file"


def _huge(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "huge.key"
    with path.open("wb") as f:
        f.truncate(1 << 30)  # sparse: 1 GB on paper
    path.chmod(0o600)
    return path, "is larger than"


def _missing(tmp_path: Path) -> tuple[Path, str]:
    return tmp_path / "nowhere.key", "does not exist"


def _someone_elses(tmp_path: Path) -> tuple[Path, str]:
    if os.geteuid() != 0:
        return Path("/etc/shadow"), "not by you"
    path = _key_file(tmp_path, b"their-key\n")
    os.chown(path, 65534, 65534)
    return path, "is owned by nobody (uid 65534), not by you"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_fifo, id="fifo"),
        pytest.param(_socket, id="socket"),
        pytest.param(_folder, id="folder"),
        pytest.param(_device("/dev/zero"), id="dev-zero"),
        pytest.param(_device("/dev/urandom"), id="dev-urandom"),
        pytest.param(_device("/dev/null"), id="dev-null"),
        pytest.param(_private_link_to_device, id="link-to-dev-zero"),
        pytest.param(_huge, id="huge"),
        pytest.param(_missing, id="missing"),
        pytest.param(_someone_elses, id="someone-elses"),
    ],
)
def test_a_key_file_that_is_not_a_plain_file_of_your_own_is_refused_at_once(
    tmp_path: Path, make: Callable[[Path], tuple[Path, str]]
) -> None:
    """In a real process with a deadline: a FIFO nobody writes to must not hang the command, a
    device or a 1 GB file must not fill its memory."""
    env = {**os.environ, "BATCHQUEUE_DB": str(tmp_path / "l.db")}
    subprocess.run(
        [sys.executable, "-m", "batchqueue", "import", str(contacts(tmp_path / "c.csv", 1)), "--survey", "1",
         "--instance", "1"], env=env, check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    key_file, problem = make(tmp_path)
    with KeyTrap() as trap:
        _profile_with_key_file(tmp_path, trap.url, key_file)
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "batchqueue", "run", "1", "--profile", "p"],
            env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip
        took = time.monotonic() - started
        assert done.returncode == 2, done.stderr
        assert f"api_key_file {key_file} {problem}" in done.stderr, done.stderr
        assert f"{tmp_path / 'batchqueue.toml'} [profiles.p]" in done.stderr
        assert "Traceback" not in done.stderr
        assert took < 30
        assert trap.passwords == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"KEYPART1\x00KEYPART2\n", "holds a NUL byte"),
        (b"KEYPART1\nKEYPART2\n", "holds more than one line"),
        (b"KEYPART1\rKEYPART2", "holds more than one line"),
        (b"KEYPART1\x1bKEYPART2", "holds a control character"),
        (b"KEYPART1\xe2\x9c\x93KEYPART2", "holds characters HTTP Basic authentication cannot carry"),
        (b"KEYPART1\xffKEYPART2", "is not UTF-8 text"),
        (b"", "is empty"),
        (b" \n\t\n", "is empty"),
    ],
)
def test_a_key_file_that_holds_no_usable_key_is_named_and_its_bytes_are_never_shown(
    tmp_path: Path, run_cli: Run, content: bytes, problem: str
) -> None:
    assert run_cli("import", contacts(tmp_path / "c.csv", 1), "--survey", "1", "--instance", "1").code == 0
    with KeyTrap() as trap:
        key_file = _key_file(tmp_path, content)
        config = _profile_with_key_file(tmp_path, trap.url, key_file)
        done = run_cli("run", "1", "--profile", "p")
        assert done.code == 2, done.err
        assert f"{config} [profiles.p]: api_key_file {key_file} {problem}" in done.err
        assert "BATCHQUEUE_API_KEY" not in done.err
        assert "KEYPART" not in done.err
        assert trap.passwords == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("KEYPART1\nKEYPART2", "holds more than one line"),
        ("KEYPART1\tKEYPART2", "holds a control character"),
        ("KEYPART1✓KEYPART2", "holds characters HTTP Basic authentication cannot carry"),
        ("", "is empty"),
    ],
)
def test_a_key_variable_that_holds_no_usable_key_is_named(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    assert run_cli("import", contacts(tmp_path / "c.csv", 1), "--survey", "1", "--instance", "1").code == 0
    with KeyTrap() as trap:
        monkeypatch.setenv("BATCHQUEUE_P_KEY", value)
        config = tmp_path / "batchqueue.toml"
        config.write_text(
            f'[profiles.p]\nbase_url = "{trap.url}"\nuser = "u@example.org"\napi_key_env = "BATCHQUEUE_P_KEY"\n'
        )
        done = run_cli("run", "1", "--profile", "p")
        assert done.code == 2, done.err
        assert f"{config} [profiles.p]: the environment variable BATCHQUEUE_P_KEY (api_key_env) {problem}" in done.err
        assert "KEYPART" not in done.err
        assert trap.passwords == []


def test_the_environments_own_key_is_checked_under_its_own_name(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("import", contacts(tmp_path / "c.csv", 1), "--survey", "1", "--instance", "1").code == 0
    with KeyTrap() as trap:
        monkeypatch.setenv("BATCHQUEUE_BASE_URL", trap.url)
        monkeypatch.setenv("BATCHQUEUE_USER", "u@example.org")
        monkeypatch.setenv("BATCHQUEUE_API_KEY", "KEYPART1\nKEYPART2")
        done = run_cli("run", "1")
        assert done.code == 2
        assert "BATCHQUEUE_API_KEY holds more than one line" in done.err
        assert "KEYPART" not in done.err
        assert trap.passwords == []


def test_a_relative_key_file_is_read_beside_its_profile_file_not_in_the_current_folder(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's own profile says ``api_key_file = "prod.key"``: a prod.key in whatever folder the
    command runs from is not that key."""
    db = str(tmp_path / "l.db")
    assert (
        run_cli("import", contacts(tmp_path / "c.csv", 1), "--survey", "4242", "--instance", "1", "--db", db).code == 0
    )
    with Sandbox() as sb:
        own = tmp_path / "xdg" / "batchqueue"
        own.mkdir(parents=True)
        (own / "config.toml").write_text(
            f'[profiles.p]\nbase_url = "{sb.api_url}"\nuser = "{sb.config.user}"\napi_key_file = "prod.key"\n'
        )
        _key_file(own, sb.config.key.encode()).rename(own / "prod.key")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        _key_file(elsewhere, b"not-the-key").rename(elsewhere / "prod.key")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        monkeypatch.chdir(elsewhere)
        done = run_cli("run", "1", "--db", db, "--profile", "p", "--rate", "0")
        assert done.code == 0, done.err
        assert len(sb.app.store.dump()) == 1
