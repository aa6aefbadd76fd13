"""The settings are read once into one typed object: values from the environment are
checked and converted, and a wrong one stops the start with the variable's name."""

import pytest

from app import create_app
from app.config import SettingError, Settings


def _app(tmp_path, **given):
    return create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "SCHEDULER_AUTOSTART": False, **given}
    )


def test_values_are_converted_to_their_kind_and_the_rest_kept_for_plugins(tmp_path, monkeypatch):
    monkeypatch.setenv("CRONWELL_LEASE_SECONDS", "12")  # from_prefixed_env: JSON, an int
    monkeypatch.setenv("CRONWELL_EXECUTE", "false")
    monkeypatch.setenv("CRONWELL_MYTYPE_TOKEN", "t0k")
    settings = _app(tmp_path, MAX_CONCURRENT="3").extensions["cronwell"].settings
    assert isinstance(settings, Settings)
    assert settings.lease_seconds == 12.0 and isinstance(settings.lease_seconds, float)
    assert settings.max_concurrent == 3 and settings.execute is False
    assert settings.extra["MYTYPE_TOKEN"] == "t0k"
    assert settings.timezone == Settings().timezone == "UTC"  # the one default


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("MAX_CONCURRENT", "many", "CRONWELL_MAX_CONCURRENT must be int, not 'many'"),
        ("EXECUTE", "perhaps", "CRONWELL_EXECUTE must be bool"),
        ("NOTIFY_URLS", "https://x", "CRONWELL_NOTIFY_URLS must be list"),
        ("MAX_CONCURRENT", 2.5, "CRONWELL_MAX_CONCURRENT must be int"),
    ],
)
def test_a_wrong_value_stops_the_start_naming_its_variable(tmp_path, key, value, says):
    with pytest.raises(SettingError, match=says):
        _app(tmp_path, **{key: value})


def test_the_sender_process_gets_the_settings_but_not_the_secrets():
    settings = Settings(api_token="t0k3n", secret_key="s3cr3t", notify_threads=2, extra={"X": 1})
    plain = settings.plain()
    assert "API_TOKEN" not in plain and "SECRET_KEY" not in plain
    again = Settings.load(plain)
    assert again.notify_threads == 2 and again.extra["X"] == 1 and again.api_token is None


def test_the_master_is_handed_only_the_settings_it_asks_for(tmp_path):
    """gunicorn's master reads its settings from `python -m app.migrate --print-settings`
    (which migrates first): the names it asks for, and no secret beside them."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWELL_")}
    env.update(
        CRONWELL_DATABASE_URL=f"sqlite:///{tmp_path}/m.db",
        CRONWELL_API_TOKEN="master-secret-7c1d",
        CRONWELL_LOG_FORMAT="json",
    )
    command = [sys.executable, "-m", "app.migrate", "--print-settings"]
    done = subprocess.run(
        [*command, "HOST", "LOG_FORMAT"], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {"HOST": "127.0.0.1", "LOG_FORMAT": "json"}
    assert "master-secret-7c1d" not in done.stdout + done.stderr
    assert (tmp_path / "m.db").exists()  # migrated first
    wrong = subprocess.run([*command, "API_TOKENS"], env=env, capture_output=True, text=True)
    assert wrong.returncode == 2 and "no setting named API_TOKENS" in wrong.stderr
