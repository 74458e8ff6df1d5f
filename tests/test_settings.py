"""Settings: priority, validation, and the key never showing."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from generect_excel.errors import SettingsError
from generect_excel.settings import (
    Settings,
    config_file_path,
    key_fingerprint,
    load_settings,
    normalize_key,
)

SECRET = "sk_live_9f8e7d6c5b4a"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc", "abc"),
        ("Token abc", "abc"),
        ("token   abc ", "abc"),
        ("  TOKEN abc", "abc"),
        ("", None),
        ("Token ", None),
        (None, None),
    ],
)
def test_normalize_key_accepts_with_or_without_prefix(raw, expected):
    assert normalize_key(raw) == expected


def test_fingerprint_is_stable_one_way_and_prefix_blind():
    assert key_fingerprint("abc") == key_fingerprint("Token abc")
    assert key_fingerprint("abc") != key_fingerprint("abd")
    assert "abc" not in key_fingerprint("abc")
    assert len(key_fingerprint("abc")) == 16


def test_priority_init_over_env_over_config(tmp_path):
    config = write_config(
        tmp_path,
        'api_key = "from_config"\nbase_url = "https://config.example.com"\nmax_parallel = 3\n',
    )
    env = {"GENERECT_API_KEY": "from_env", "GENERECT_MAX_PARALLEL": "5"}
    s = load_settings(environ=env, config_file=config, use_keyring=False, max_parallel=7)
    assert s.key == "from_env" and s.key_source == "env"
    assert s.base_url == "https://config.example.com"
    assert s.max_parallel == 7
    s = load_settings(environ={}, config_file=config, use_keyring=False)
    assert s.key == "from_config" and s.key_source == "config" and s.max_parallel == 3


def test_max_throttle_wait_is_minutes_from_env_or_config(tmp_path):
    config = write_config(tmp_path, "max_throttle_wait = 2.5\n")
    s = load_settings(environ={}, config_file=tmp_path / "absent.toml", use_keyring=False)
    assert s.max_throttle_wait == 10.0  # the default
    s = load_settings(environ={}, config_file=config, use_keyring=False)
    assert s.max_throttle_wait == 2.5
    env = {"GENERECT_MAX_THROTTLE_WAIT": "30"}
    assert load_settings(environ=env, config_file=config, use_keyring=False).max_throttle_wait == 30
    with pytest.raises(
        SettingsError, match=r"max_throttle_wait \(from GENERECT_MAX_THROTTLE_WAIT\)"
    ):
        load_settings(
            environ={"GENERECT_MAX_THROTTLE_WAIT": "-1"}, config_file=config, use_keyring=False
        )


def test_config_file_may_use_a_generect_table(tmp_path):
    config = write_config(tmp_path, '[generect]\nmax_spend_per_day = "40"\n')
    s = load_settings(environ={}, config_file=config, use_keyring=False)
    assert s.max_spend_per_day == Decimal("40")


def test_defaults_and_home(tmp_path):
    s = load_settings(
        environ={"GENERECT_HOME": str(tmp_path)},
        config_file=tmp_path / "none.toml",
        use_keyring=False,
    )
    assert s.base_url == "https://api.generect.com"
    assert s.key is None and s.key_source == "none"
    assert s.store_path == tmp_path / "store.sqlite3"
    assert s.max_spend_per_request == Decimal("5") and s.max_spend_per_day == Decimal("25")
    assert 1 <= s.max_parallel < 50


def test_key_with_token_prefix_is_stripped():
    s = Settings(api_key=f"Token {SECRET}")
    assert s.key == SECRET


@pytest.mark.parametrize(
    "url",
    ["http://api.generect.com", "ftp://x", "not a url", "http://10.0.0.5:8000"],
)
def test_base_url_must_be_https_except_loopback(url, tmp_path):
    with pytest.raises(SettingsError) as info:
        load_settings(environ={}, config_file=tmp_path / "x.toml", use_keyring=False, base_url=url)
    assert "base_url" in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8765", "http://localhost:1", "https://api.generect.com/", "http://[::1]:80"],
)
def test_base_url_loopback_http_and_https_allowed(url):
    assert Settings(base_url=url).base_url == url.rstrip("/")


def test_key_never_in_repr_str_errors_or_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    s = load_settings(
        environ={"GENERECT_API_KEY": SECRET}, config_file=tmp_path / "x.toml", use_keyring=False
    )
    assert SECRET not in repr(s) and SECRET not in str(s)
    assert SECRET not in s.model_dump_json()
    logging.getLogger("test").info("settings %r", s)
    # A bad value next to the key: the error names the field, never echoes input.
    with pytest.raises(SettingsError) as info:
        load_settings(
            environ={"GENERECT_API_KEY": SECRET, "GENERECT_MAX_PARALLEL": SECRET},
            config_file=tmp_path / "x.toml",
            use_keyring=False,
        )
    assert "max_parallel" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in info.value.details
    assert SECRET not in caplog.text


def test_unknown_config_key_is_named(tmp_path):
    config = write_config(tmp_path, 'apikey = "x"\n')
    with pytest.raises(SettingsError, match="apikey"):
        load_settings(environ={}, config_file=config, use_keyring=False)


def test_broken_config_file_is_a_settings_error(tmp_path):
    config = write_config(tmp_path, "api_key = \n")
    with pytest.raises(SettingsError, match="config file"):
        load_settings(environ={}, config_file=config, use_keyring=False)


def test_require_key_says_where_keys_come_from():
    with pytest.raises(SettingsError) as info:
        Settings().require_key()
    assert "GENERECT_API_KEY" in str(info.value) and len(str(info.value)) <= 120


def test_test_mode_key():
    assert Settings(api_key="test_abc").test_mode_key
    assert not Settings(api_key="live_abc").test_mode_key


def test_config_file_path_env_override(tmp_path):
    assert config_file_path({"GENERECT_CONFIG": str(tmp_path / "c.toml")}) == tmp_path / "c.toml"
    assert config_file_path({}).name == "config.toml"


def test_keyring_used_only_when_no_other_key(tmp_path, monkeypatch):
    import generect_excel.settings as mod

    monkeypatch.setattr(mod, "_read_keyring", lambda: "from_keyring")
    s = load_settings(environ={}, config_file=tmp_path / "x.toml")
    assert s.key == "from_keyring" and s.key_source == "keyring"
    s = load_settings(environ={"GENERECT_API_KEY": "env_key"}, config_file=tmp_path / "x.toml")
    assert s.key == "env_key"


@pytest.mark.parametrize(
    "bad", [f"{SECRET}\nx", f"{SECRET}\x00x", f"sk live {SECRET}", f"{SECRET}é", f"{SECRET}\x7f"]
)
def test_a_key_that_cannot_go_in_a_header_is_refused_without_echoing_it(bad, tmp_path):
    # httpx's error for such a header quotes the whole header, key included, into the logs.
    with pytest.raises(SettingsError) as info:
        load_settings(
            environ={"GENERECT_API_KEY": bad}, config_file=tmp_path / "x.toml", use_keyring=False
        )
    assert str(info.value).startswith("Invalid settings: api_key (from GENERECT_API_KEY): ")
    assert SECRET not in str(info.value) and SECRET not in info.value.details
    with pytest.raises(ValidationError) as direct:
        Settings(api_key=bad)
    assert SECRET not in str(direct.value)
