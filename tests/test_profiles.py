"""Named connection profiles: the run goes where the profile says, as its user, with the key from
the environment variable or the owner-only file it names; a key written in the file is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from batchqueue.sandbox import Sandbox
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts

Run = Callable[..., CliResult]


def _config(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_a_profile_picks_the_target_and_its_key_from_a_variable_or_a_private_file(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("BATCHQUEUE_BASE_URL", "BATCHQUEUE_USER", "BATCHQUEUE_API_KEY"):
        monkeypatch.setenv(name, "https://wrong.example.org/api" if name.endswith("URL") else "wrong")
    assert run_cli("import", contacts(tmp_path / "c.csv", 4), "--survey", "4242", "--instance", "1").code == 0
    with Sandbox() as sb:
        key_file = tmp_path / "sandbox.key"
        key_file.write_text(sb.config.key + "\n", encoding="utf-8")
        key_file.chmod(0o600)
        _config(
            tmp_path / "batchqueue.toml",
            f'[profiles.viaenv]\nbase_url = "{sb.api_url}"\nuser = "{sb.config.user}"\napi_key_env = "SB_KEY"\n'
            f'[profiles.viafile]\nbase_url = "{sb.api_url}"\nuser = "{sb.config.user}"\n'
            f'api_key_file = "{key_file}"\n',
        )
        monkeypatch.setenv("SB_KEY", sb.config.key)
        first = run_cli("run", "1", "--limit", "2", "--rate", "0", "--profile", "viaenv", "--json")
        assert first.code == 0, first.err
        assert f"to {sb.api_url}, survey 4242 instance 1, as {sb.config.user} (profile viaenv)" in first.err
        monkeypatch.setenv("BATCHQUEUE_PROFILE", "viafile")
        second = run_cli("run", "1", "--rate", "0", "--json")
        assert second.code == 0, second.err
        assert "(profile viafile)" in second.err
        assert len(sb.app.store.dump()) == 4
    assert sb.config.key not in first.err + second.err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[profiles.p]\nbase_url = "http://127.0.0.1:1/api"\napi_key = "s3cret"\n', "never write the key itself"),
        ('[profiles.p]\napi_key_env = "NOT_SET_ANYWHERE"\n', "NOT_SET_ANYWHERE (api_key_env) is not set"),
        ('[profiles.other]\nuser = "x"\n', "no profile 'p' (profiles there: other)"),
        ('[profiles.p]\npassword = "x"\n', "unknown key(s) password"),
        ("[profiles.p\n", "cannot be read as TOML"),
    ],
)
def test_bad_profiles_are_refused_with_a_message(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, body: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _config(tmp_path / "batchqueue.toml", body)
    assert run_cli("import", contacts(tmp_path / "c.csv", 1), "--survey", "1", "--instance", "1").code == 0
    done = run_cli("run", "1", "--profile", "p")
    assert done.code == 2
    assert message in done.err
    assert "s3cret" not in done.err


def test_a_key_file_others_can_read_is_refused(tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    key_file = tmp_path / "k"
    key_file.write_text("s3cret", encoding="utf-8")
    key_file.chmod(0o644)
    _config(tmp_path / "batchqueue.toml", f'[profiles.p]\napi_key_file = "{key_file}"\n')
    assert run_cli("import", contacts(tmp_path / "c.csv", 1), "--survey", "1", "--instance", "1").code == 0
    done = run_cli("run", "1", "--profile", "p")
    assert done.code == 2
    assert "readable by others; make it 0600" in done.err


def test_the_users_configuration_folder_is_searched_too(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "xdg" / "batchqueue"
    folder.mkdir(parents=True)
    _config(folder / "config.toml", '[profiles.home]\nbase_url = "http://127.0.0.1:9/api"\nuser = "me@example.org"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert run_cli("import", contacts(tmp_path / "c.csv", 1), "--survey", "1", "--instance", "1").code == 0
    keyless = run_cli("run", "1", "--profile", "home")
    assert keyless.code == 2
    assert "profile 'home' needs a user, and an api_key_env or api_key_file" in keyless.err
    with (folder / "config.toml").open("a", encoding="utf-8") as f:
        f.write('api_key_env = "HOME_KEY"\n')
    monkeypatch.setenv("HOME_KEY", "k")
    shown = run_cli("run", "1", "--profile", "home", "--retries", "1", "--connect-timeout", "0.5")
    assert "to http://127.0.0.1:9/api, survey 1 instance 1, as me@example.org (profile home)" in shown.err
