"""Named connection profiles: the run goes where the profile says, as its user, with the key from
the environment variable or the owner-only file it names; a key written in the file is refused.

A profile decides where the key is sent, so a profile file in the current folder is used only when
nobody else could have written it, never shadows the user's own profile of the same name, and is
picked only by a name typed on the command line; every command that calls Insight says which file
its profile came from."""

from __future__ import annotations

import os
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
IS_ROOT = os.geteuid() == 0
NOBODY = 65534


def _config(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def _own_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    """The user's own configuration file (``$XDG_CONFIG_HOME/batchqueue/config.toml``)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return _config(tmp_path / "xdg" / "batchqueue" / "config.toml", body)


def _profile(name: str, url: str, user: str = "me@example.org", key: str = 'api_key_env = "BATCHQUEUE_P_KEY"') -> str:
    return f'[profiles.{name}]\nbase_url = "{url}"\nuser = "{user}"\n{key}\n'


def _someone_elses_file(folder: Path, body: str) -> Path:
    """A file that belongs to another user (as root: made and given away; otherwise: a system file)."""
    if not IS_ROOT:
        return Path("/etc/passwd")
    path = _config(folder / "theirs.toml", body)
    os.chown(path, NOBODY, NOBODY)
    return path


def _job(tmp_path: Path, run_cli: Run, rows: int = 1) -> str:
    """A job of ``rows`` contacts in the ledger ``tmp_path/l.db``; returns the ``--db`` value."""
    db = str(tmp_path / "l.db")
    done = run_cli("import", contacts(tmp_path / "c.csv", rows), "--survey", "4242", "--instance", "1", "--db", db)
    assert done.code == 0, done.err
    return db


def test_a_profile_picks_the_target_and_its_key_from_a_variable_or_a_private_file(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("BATCHQUEUE_BASE_URL", "BATCHQUEUE_USER", "BATCHQUEUE_API_KEY"):
        monkeypatch.setenv(name, "https://wrong.example.org/api" if name.endswith("URL") else "wrong")
    assert run_cli("import", contacts(tmp_path / "c.csv", 4), "--survey", "4242", "--instance", "1").code == 0
    with Sandbox() as sb:
        key_file = tmp_path / "sandbox.key"
        key_file.write_text(sb.config.key + "\n", encoding="utf-8")
        key_file.chmod(0o600)
        config = _config(
            tmp_path / "batchqueue.toml",
            f'[profiles.viaenv]\nbase_url = "{sb.api_url}"\nuser = "{sb.config.user}"\n'
            'api_key_env = "BATCHQUEUE_SB_KEY"\n'
            f'[profiles.viafile]\nbase_url = "{sb.api_url}"\nuser = "{sb.config.user}"\n'
            f'api_key_file = "{key_file}"\n',
        )
        monkeypatch.setenv("BATCHQUEUE_SB_KEY", sb.config.key)
        first = run_cli("run", "1", "--limit", "2", "--rate", "0", "--profile", "viaenv", "--json")
        assert first.code == 0, first.err
        shown = f"to {sb.api_url}, survey 4242 instance 1, as {sb.config.user} (profile viaenv from {config})"
        assert shown in first.err
        second = run_cli("run", "1", "--rate", "0", "--json", "--profile", "viafile")
        assert second.code == 0, second.err
        assert f"(profile viafile from {config})" in second.err
        assert len(sb.app.store.dump()) == 4
    assert sb.config.key not in first.err + second.err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[profiles.p]\nbase_url = "http://127.0.0.1:1/api"\napi_key = "s3cret"\n', "never write the key itself"),
        ('[profiles.p]\napi_key_env = "BATCHQUEUE_NOT_SET_KEY"\n', "BATCHQUEUE_NOT_SET_KEY (api_key_env) is not set"),
        ('[profiles.other]\nuser = "x"\n', "(profiles there: other)"),
        ('[profiles.p]\npassword = "x"\n', "unknown key(s) password"),
        ("[profiles.p\n", "cannot be read as TOML"),
        ('[profiles.p]\nuser = "a\\u0000b"\napi_key_env = "BATCHQUEUE_P_KEY"\n', "user holds a NUL byte"),
        ('[profiles.p]\nbase_url = "ftp://x/api"\n', "base_url must start with http:// or https://"),
    ],
)
def test_bad_profiles_are_refused_with_a_message(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, body: str, message: str
) -> None:
    config = _config(tmp_path / "batchqueue.toml", body)
    monkeypatch.setenv("BATCHQUEUE_P_KEY", "s3cret-in-the-environment")
    assert run_cli("import", contacts(tmp_path / "c.csv", 1), "--survey", "1", "--instance", "1").code == 0
    done = run_cli("run", "1", "--profile", "p")
    assert done.code == 2
    assert message in done.err
    assert str(config) in done.err
    assert "s3cret" not in done.err


def test_the_users_configuration_folder_is_searched_too(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = _own_config(tmp_path, monkeypatch, '[profiles.home]\nbase_url = "http://127.0.0.1:9/api"\n')
    with own.open("a", encoding="utf-8") as f:
        f.write('user = "me@example.org"\n')
    assert run_cli("import", contacts(tmp_path / "c.csv", 1), "--survey", "1", "--instance", "1").code == 0
    keyless = run_cli("run", "1", "--profile", "home")
    assert keyless.code == 2
    assert "profile 'home' needs a user, and an api_key_env or api_key_file" in keyless.err
    with own.open("a", encoding="utf-8") as f:
        f.write('api_key_env = "BATCHQUEUE_HOME_KEY"\n')
    monkeypatch.setenv("BATCHQUEUE_HOME_KEY", "k")
    shown = run_cli("run", "1", "--profile", "home", "--retries", "1", "--connect-timeout", "0.5")
    assert f"to http://127.0.0.1:9/api, survey 1 instance 1, as me@example.org (profile home from {own})" in shown.err
    monkeypatch.setenv("BATCHQUEUE_PROFILE", "home")  # the environment may pick the user's own profiles
    chosen = run_cli("run", "1", "--retries", "1", "--connect-timeout", "0.5")
    assert f"(profile home from {own})" in chosen.err


# --- a profile file in the current folder: never a way to capture the key ---------------------------


@pytest.mark.parametrize("chosen_by", ["option", "environment"])
def test_a_folder_profile_with_the_name_of_your_own_is_refused_and_the_key_goes_nowhere(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, chosen_by: str
) -> None:
    """The planted ./batchqueue.toml of the report: same name as the user's own profile, its own
    base URL, and the user's own key (by variable or by the user's own key file)."""
    db = _job(tmp_path, run_cli)
    with Sandbox() as sb, KeyTrap() as trap:
        key_file = tmp_path / "production.key"
        key_file.write_text(sb.config.key, encoding="utf-8")
        key_file.chmod(0o600)
        own = _own_config(tmp_path, monkeypatch, _profile("production", sb.api_url, key=f'api_key_file = "{key_file}"'))
        monkeypatch.setenv("BATCHQUEUE_API_KEY", sb.config.key)
        planted = _config(
            tmp_path / "batchqueue.toml",
            _profile("production", trap.url, key=f'api_key_file = "{key_file}"')
            + _profile("copy", trap.url, key='api_key_env = "BATCHQUEUE_API_KEY"'),
        )
        args = ["run", "1", "--db", db, "--rate", "0"]
        if chosen_by == "option":
            args += ["--profile", "production"]
        else:
            monkeypatch.setenv("BATCHQUEUE_PROFILE", "production")
        done = run_cli(*args)
        assert done.code == 2, done.err
        assert "profile 'production' is defined in both" in done.err
        assert str(planted) in done.err
        assert str(own) in done.err
        assert trap.passwords == []
        assert sb.app.store.dump() == []
    assert sb.config.key not in done.err


def test_the_environment_never_picks_a_profile_that_only_the_folder_file_defines(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BATCHQUEUE_PROFILE follows the user into every folder; typing --profile here is a choice."""
    db = _job(tmp_path, run_cli, rows=2)
    _own_config(tmp_path, monkeypatch, _profile("mine", "http://127.0.0.1:9/api"))
    with Sandbox() as sb:
        folder_file = _config(
            tmp_path / "batchqueue.toml",
            _profile("staging", sb.api_url, sb.config.user, 'api_key_env = "BATCHQUEUE_S_KEY"'),
        )
        monkeypatch.setenv("BATCHQUEUE_S_KEY", sb.config.key)
        monkeypatch.setenv("BATCHQUEUE_PROFILE", "staging")
        ambient = run_cli("run", "1", "--db", db, "--rate", "0")
        assert ambient.code == 2, ambient.err
        assert "BATCHQUEUE_PROFILE=staging" in ambient.err
        assert str(folder_file) in ambient.err
        assert "--profile staging" in ambient.err
        assert sb.app.store.dump() == []
        typed = run_cli("run", "1", "--db", db, "--rate", "0", "--profile", "staging")
        assert typed.code == 0, typed.err
        assert f"(profile staging from {folder_file})" in typed.err
        assert len(sb.app.store.dump()) == 2


Setup = Callable[[Path, str], tuple[Path, str]]


def _folder_file(tmp: Path, body: str, folder_mode: int = 0o755, file_mode: int = 0o644) -> Path:
    folder = tmp / "proj"
    folder.mkdir(parents=True, exist_ok=True)
    path = _config(folder / "batchqueue.toml", body)
    path.chmod(file_mode)
    folder.chmod(folder_mode)
    return path


def _case_owned_by_another(tmp: Path, body: str) -> tuple[Path, str]:
    (tmp / "proj").mkdir()
    theirs = _someone_elses_file(tmp / "elsewhere", body)
    if IS_ROOT:
        path = tmp / "proj" / "batchqueue.toml"
        theirs.rename(path)
        return path, "owned by nobody (uid 65534), not by you"
    (tmp / "proj" / "batchqueue.toml").symlink_to(theirs)
    return tmp / "proj" / "batchqueue.toml", "not by you"


def _case_link_to_someone_elses(tmp: Path, body: str) -> tuple[Path, str]:
    (tmp / "proj").mkdir()
    theirs = _someone_elses_file(tmp / "elsewhere", body)
    (tmp / "proj" / "batchqueue.toml").symlink_to(theirs)
    return tmp / "proj" / "batchqueue.toml", "not by you"


def _case_group_writable(tmp: Path, body: str) -> tuple[Path, str]:
    return _folder_file(tmp, body, file_mode=0o664), "writable by its group (mode 0664)"


def _case_world_writable(tmp: Path, body: str) -> tuple[Path, str]:
    return _folder_file(tmp, body, file_mode=0o646), "writable by others (mode 0646)"


def _case_folder_writable_by_others(tmp: Path, body: str) -> tuple[Path, str]:
    path = _folder_file(tmp, body, folder_mode=0o777)
    return path, f"its folder {tmp / 'proj'} is writable by its group and others (mode 0777)"


def _case_folder_writable_by_group(tmp: Path, body: str) -> tuple[Path, str]:
    return _folder_file(tmp, body, folder_mode=0o775), f"its folder {tmp / 'proj'} is writable by its group"


def _case_parent_folder_writable(tmp: Path, body: str) -> tuple[Path, str]:
    path = _folder_file(tmp, body)
    tmp.chmod(0o777)
    return path, f"its folder {tmp} is writable by its group and others (mode 0777)"


def _case_link_into_an_open_folder(tmp: Path, body: str) -> tuple[Path, str]:
    (tmp / "proj").mkdir()
    (tmp / "open").mkdir()
    real = _config(tmp / "open" / "real.toml", body)
    (tmp / "open").chmod(0o777)
    (tmp / "proj" / "batchqueue.toml").symlink_to(real)
    return tmp / "proj" / "batchqueue.toml", f"its folder {tmp / 'open'} is writable by its group and others"


def _case_folder_owned_by_another(tmp: Path, body: str) -> tuple[Path, str]:
    path = _folder_file(tmp, body)
    os.chown(tmp / "proj", NOBODY, NOBODY)
    return path, f"its folder {tmp / 'proj'} is owned by nobody (uid 65534)"


def _case_fifo(tmp: Path, body: str) -> tuple[Path, str]:
    (tmp / "proj").mkdir()
    os.mkfifo(tmp / "proj" / "batchqueue.toml", 0o600)
    return tmp / "proj" / "batchqueue.toml", "is a named pipe (FIFO), not a regular file"


def _case_a_folder(tmp: Path, body: str) -> tuple[Path, str]:
    (tmp / "proj" / "batchqueue.toml").mkdir(parents=True)
    return tmp / "proj" / "batchqueue.toml", "is a folder, not a regular file"


def _case_dangling_link(tmp: Path, body: str) -> tuple[Path, str]:
    (tmp / "proj").mkdir()
    (tmp / "proj" / "batchqueue.toml").symlink_to(tmp / "gone.toml")
    return tmp / "proj" / "batchqueue.toml", "is a link to nothing"


def _case_huge(tmp: Path, body: str) -> tuple[Path, str]:
    path = _folder_file(tmp, body)
    with path.open("r+b") as f:
        f.truncate(64 * 1024 * 1024)  # sparse: 64 MB on paper, nothing on disk
    return path, "is larger than"


UNSAFE_FOLDER_FILES: list[object] = [
    pytest.param(_case_owned_by_another, id="owned-by-another"),
    pytest.param(_case_link_to_someone_elses, id="symlink-to-another-users-file"),
    pytest.param(_case_group_writable, id="group-writable"),
    pytest.param(_case_world_writable, id="world-writable"),
    pytest.param(_case_folder_writable_by_others, id="folder-writable-by-others"),
    pytest.param(_case_folder_writable_by_group, id="folder-writable-by-group"),
    pytest.param(_case_parent_folder_writable, id="parent-folder-writable"),
    pytest.param(_case_link_into_an_open_folder, id="symlink-into-a-folder-others-can-write"),
    pytest.param(
        _case_folder_owned_by_another,
        id="folder-owned-by-another",
        marks=pytest.mark.skipif(not IS_ROOT, reason="only root can give a folder away"),
    ),
    pytest.param(_case_fifo, id="fifo"),
    pytest.param(_case_a_folder, id="a-folder"),
    pytest.param(_case_dangling_link, id="dangling-symlink"),
    pytest.param(_case_huge, id="huge"),
]


@pytest.mark.parametrize("setup", UNSAFE_FOLDER_FILES)
def test_a_folder_file_someone_else_could_have_written_is_refused(
    tmp_path: Path, setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run as a real process (a FIFO must not hang it): exit 2 at once, the file and what is wrong
    with it named, and nothing sent, whether the profile asked for is in that file or the user's own."""
    base = tmp_path / "base"
    base.mkdir(mode=0o755)
    with KeyTrap() as trap:
        path, problem = setup(base, _profile("p", trap.url) + _profile("mine", trap.url))
        _own_config(tmp_path, monkeypatch, _profile("mine", trap.url, key='api_key_env = "BATCHQUEUE_M_KEY"'))
        env = {
            **os.environ,
            "BATCHQUEUE_P_KEY": "planted-wants-this",
            "BATCHQUEUE_M_KEY": "my-own-key-1234",
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "BATCHQUEUE_DB": str(tmp_path / "l.db"),
        }
        subprocess.run(
            [sys.executable, "-m", "batchqueue", "import", str(contacts(tmp_path / "c.csv", 1)), "--survey", "1",
             "--instance", "1"], env=env, check=True, capture_output=True, cwd=tmp_path,
        )  # fmt: skip
        for name in ("p", "mine"):
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "batchqueue", "run", "1", "--profile", name, "--rate", "0"],
                env=env, capture_output=True, text=True, timeout=60, cwd=path.parent,
            )  # fmt: skip
            assert done.returncode == 2, done.stderr
            assert f"{path}" in done.stderr, done.stderr
            assert problem in done.stderr, done.stderr
            assert "Traceback" not in done.stderr
            assert time.monotonic() - started < 30
        assert trap.passwords == []


@pytest.mark.parametrize("setup", UNSAFE_FOLDER_FILES[:3])
def test_the_refusal_holds_when_the_environment_picks_the_profile(
    tmp_path: Path, setup: Setup, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _job(tmp_path, run_cli)
    base = tmp_path / "base"
    base.mkdir(mode=0o755)
    with KeyTrap() as trap:
        path, problem = setup(base, _profile("p", trap.url))
        monkeypatch.setenv("BATCHQUEUE_P_KEY", "planted-wants-this")
        monkeypatch.setenv("BATCHQUEUE_PROFILE", "p")
        monkeypatch.chdir(path.parent)
        done = run_cli("run", "1", "--db", db)
        assert done.code == 2
        assert problem in done.err
        assert trap.passwords == []


def test_your_own_file_in_a_sticky_shared_folder_and_a_link_to_your_own_config_are_used(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not over-refusing: a folder like /tmp (anyone may add, nobody may replace what is yours) is
    fine, and ./batchqueue.toml linked to the user's own file defines each profile once, not twice."""
    db = _job(tmp_path, run_cli, rows=2)
    with Sandbox() as sb:
        monkeypatch.setenv("BATCHQUEUE_S_KEY", sb.config.key)
        body = _profile("s", sb.api_url, sb.config.user, 'api_key_env = "BATCHQUEUE_S_KEY"')
        shared = tmp_path / "shared"
        shared.mkdir()
        path = _config(shared / "batchqueue.toml", body)
        shared.chmod(0o1777)
        monkeypatch.chdir(shared)
        first = run_cli("run", "1", "--db", db, "--rate", "0", "--limit", "1", "--profile", "s")
        assert first.code == 0, first.err
        assert f"(profile s from {path})" in first.err
        own = _own_config(tmp_path, monkeypatch, body)
        linked = tmp_path / "linked"
        linked.mkdir()
        (linked / "batchqueue.toml").symlink_to(own)
        monkeypatch.chdir(linked)
        second = run_cli("run", "1", "--db", db, "--rate", "0", "--profile", "s")
        assert second.code == 0, second.err
        assert len(sb.app.store.dump()) == 2
        shared.chmod(0o755)


@pytest.mark.parametrize(
    "variable",
    [
        "AWS_SECRET_ACCESS_KEY",
        "PGPASSWORD",
        "GITHUB_TOKEN",
        "BATCHQUEUE_DB",
        "BATCHQUEUE_USER",
        "HOME",
        "batchqueue_x_key",
        "BATCHQUEUE_KEYRING_PASSWORD",
        "MY_BATCHQUEUE_API_KEY",
        "BATCHQUEUE_API_KEY_BACKUP",
    ],
)
def test_api_key_env_may_name_only_a_variable_kept_for_a_batchqueue_key(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """A profile could otherwise send any secret of the user's environment to its base URL."""
    db = _job(tmp_path, run_cli)
    with KeyTrap() as trap:
        monkeypatch.setenv(variable, "other-programs-secret-0123")
        config = _config(tmp_path / "batchqueue.toml", _profile("p", trap.url, key=f'api_key_env = "{variable}"'))
        done = run_cli("run", "1", "--db", db, "--profile", "p")
        assert done.code == 2, done.err
        assert f"api_key_env {variable!r}" in done.err
        assert str(config) in done.err
        assert "BATCHQUEUE_…_KEY" in done.err
        assert "other-programs-secret-0123" not in done.err
        assert trap.passwords == []


def test_a_profile_never_falls_back_to_the_environments_user_or_key(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _job(tmp_path, run_cli)
    with KeyTrap() as trap:
        monkeypatch.setenv("BATCHQUEUE_BASE_URL", trap.url)
        monkeypatch.setenv("BATCHQUEUE_USER", "env-user@example.org")
        monkeypatch.setenv("BATCHQUEUE_API_KEY", "the-environments-key-42")
        monkeypatch.setenv("BATCHQUEUE_P_KEY", "the-profiles-key-42")
        _config(
            tmp_path / "batchqueue.toml",
            f'[profiles.nokey]\nbase_url = "{trap.url}"\nuser = "me@example.org"\n'
            f'[profiles.nouser]\nbase_url = "{trap.url}"\napi_key_env = "BATCHQUEUE_P_KEY"\n',
        )
        for name in ("nokey", "nouser"):
            done = run_cli("run", "1", "--db", db, "--profile", name)
            assert done.code == 2, done.err
            assert f"profile {name!r} needs a user, and an api_key_env or api_key_file" in done.err
        assert trap.passwords == []


def test_poll_cancel_and_the_console_name_the_file_their_profile_came_from(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _job(tmp_path, run_cli)
    with KeyTrap(status=503) as trap:
        monkeypatch.setenv("BATCHQUEUE_P_KEY", "k-1234")
        config = _config(tmp_path / "batchqueue.toml", _profile("p", trap.url))
        target = f"{trap.url}, survey 4242 instance 1, as me@example.org (profile p from {config})"
        polled = run_cli("poll", "1", "--db", db, "--profile", "p")
        assert polled.code == 0, polled.err
        assert f"polling job 1 at {target}" in polled.err
        refused = run_cli("cancel", "1", "--remote", "--db", db, "--profile", "p")
        assert refused.code == 2
        assert f"({target})" in refused.err
        console = subprocess.Popen(
            [sys.executable, "-m", "batchqueue", "console", "--port", "0", "--db", db, "--folder",
             str(tmp_path / "console"), "--profile", "p"],
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert console.stdout is not None
            lines = [console.stdout.readline(), console.stdout.readline()]
        finally:
            console.terminate()
            console.communicate(timeout=30)
        assert lines[0].startswith("console on http://127.0.0.1:"), lines
        assert lines[1].strip() == f"runs send to {trap.url}, as me@example.org (profile p from {config})", lines


def test_your_own_configuration_file_is_held_to_the_same_rules(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _job(tmp_path, run_cli)
    with KeyTrap() as trap:
        monkeypatch.setenv("BATCHQUEUE_P_KEY", "k-1234")
        own = _own_config(tmp_path, monkeypatch, _profile("p", trap.url))
        own.chmod(0o666)
        writable = run_cli("run", "1", "--db", db, "--profile", "p")
        assert writable.code == 2
        assert f"{own} is writable by its group and others (mode 0666)" in writable.err
        own.chmod(0o644)
        own.parent.chmod(0o777)
        open_folder = run_cli("run", "1", "--db", db, "--profile", "p")
        assert open_folder.code == 2
        assert f"its folder {own.parent} is writable by its group and others" in open_folder.err
        assert trap.passwords == []
