"""Settings: one object, one documented priority.

Priority, highest first (pydantic-settings' order):

1. keyword arguments to :func:`load_settings` (tests build settings directly),
2. environment variables (``GENERECT_API_KEY``, ``GENERECT_BASE_URL``, ``GENERECT_HOME``, ...),
3. the user config file (TOML): ``$GENERECT_CONFIG``, else ``config.toml`` in the platform's
   config folder (``platformdirs.user_config_dir("generect-excel")``),
4. for the API key only: the OS keyring (service ``generect-excel``), when ``keyring`` is
   installed,
5. defaults.

The key is a :class:`pydantic.SecretStr`: it never shows in a repr, a log line or an error.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from . import _constants as C
from .errors import SettingsError
from .suggest import closest, did_you_mean

__all__ = [
    "Settings",
    "config_file_path",
    "default_home",
    "key_fingerprint",
    "load_settings",
    "normalize_key",
]

APP_NAME = "generect-excel"

# Setting name -> environment variable. The config file uses the setting names as keys.
ENV_VARS: dict[str, str] = {
    "api_key": C.ENV_API_KEY,
    "base_url": C.ENV_BASE_URL,
    "home": C.ENV_HOME,
    "max_parallel": "GENERECT_MAX_PARALLEL",
    "max_spend_per_request": "GENERECT_MAX_SPEND_PER_REQUEST",
    "max_spend_per_day": "GENERECT_MAX_SPEND_PER_DAY",
    "free_count_max_age": "GENERECT_FREE_COUNT_MAX_AGE",
    "confirm_above": "GENERECT_CONFIRM_ABOVE",
    "max_throttle_wait": "GENERECT_MAX_THROTTLE_WAIT",
    "store_url": C.ENV_STORE_URL,
    "analyst": "GENERECT_ANALYST",
}


def normalize_key(raw: str | None) -> str | None:
    """Strip whitespace and an optional ``Token`` prefix: we add it back on the wire."""
    if raw is None:
        return None
    key = re.sub(r"(?i)^token(\s+|$)", "", raw.strip()).strip()
    return key or None


# What an API key may hold: printable ASCII without spaces. Anything else cannot go in an HTTP
# header, and httpx's error for such a header quotes the whole header, key included.
_KEY_CHARS = re.compile(r"^[\x21-\x7e]+$")


def key_fingerprint(key: str | SecretStr | None) -> str:
    """A short, stable, one-way fingerprint of a key: safe to store, never reversible."""
    if isinstance(key, SecretStr):
        key = key.get_secret_value()
    key = normalize_key(key) or ""
    return hashlib.sha256(("generect-excel:" + key).encode()).hexdigest()[:16]


def default_home() -> Path:
    """Where local data (the store) lives when ``GENERECT_HOME`` is not set."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_file_path(environ: Mapping[str, str] | None = None) -> Path:
    """The user config file: ``$GENERECT_CONFIG`` or the platform's config folder."""
    environ = os.environ if environ is None else environ
    explicit = environ.get(C.ENV_CONFIG_FILE)
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseModel):
    """Everything configurable, validated. Build it with :func:`load_settings`."""

    # hide_input_in_errors: a ValidationError must never quote what was given (it could be
    # the key), also when Settings is built directly rather than through load_settings.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    api_key: SecretStr | None = None
    base_url: str = C.DEFAULT_BASE_URL
    home: Path = Field(default_factory=default_home)
    max_parallel: int = Field(default=C.DEFAULT_MAX_PARALLEL, ge=1, le=50)
    max_spend_per_request: Decimal = Field(default=C.DEFAULT_MAX_SPEND_PER_REQUEST, ge=0)
    max_spend_per_day: Decimal = Field(default=C.DEFAULT_MAX_SPEND_PER_DAY, ge=0)
    free_count_max_age: int = Field(default=C.DEFAULT_FREE_COUNT_MAX_AGE, ge=0)
    # A refresh whose worst case exceeds this asks before spending (on a terminal).
    confirm_above: Decimal = Field(default=Decimal("1"), ge=0)
    # Minutes a request keeps waiting out Generect's throttling (429, never charged) before
    # it fails; counted from its first 429.
    max_throttle_wait: float = Field(default=C.DEFAULT_MAX_THROTTLE_WAIT, ge=0, le=24 * 60)
    key_source: str = "none"  # where the key came from: init, env, config, keyring, none
    # The team store (issue 15): a postgresql:// URL; None keeps the local SQLite file. Secret:
    # it may hold the database password (else the keyring's, see store.postgres).
    store_url: SecretStr | None = None
    # Who this laptop's purchases are recorded for in the team store (default: the OS user).
    analyst: str | None = None
    config_file: Path | None = None  # the config file read (or looked for), for messages
    # Environment variables spelt like GENERECT_API_KEY but not it ("GENERECT_APIKEY"): named
    # when no key is found, since they look set to whoever typed them.
    misspelt_key_vars: tuple[str, ...] = ()

    @field_validator("api_key", mode="before")
    @classmethod
    def _strip_prefix(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            key = normalize_key(value)
            if key is not None and not _KEY_CHARS.match(key):
                raise ValueError("has a space, line break or non-ASCII character: copy it again")
            return key
        return value

    @field_validator("base_url")
    @classmethod
    def _https_or_loopback(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base URL must look like https://host, got {value!r}")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError("base URL must use https (plain http only for 127.0.0.1/localhost)")
        return value

    @field_validator("store_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("must be a postgresql://user@host/database URL")
        return value

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, value: Any) -> Any:
        return Path(value).expanduser() if isinstance(value, str | Path) else value

    @property
    def key(self) -> str | None:
        """The key itself, for the client's header only."""
        return self.api_key.get_secret_value() if self.api_key else None

    @property
    def test_mode_key(self) -> bool:
        """Keys starting ``test_`` get fictional data and are never debited."""
        return bool(self.key and self.key.startswith("test_"))

    @property
    def account(self) -> str:
        """The account fingerprint used in cache keys and the ledger (never the key)."""
        return key_fingerprint(self.key)

    @property
    def store_path(self) -> Path:
        return self.home / "store.sqlite3"

    def require_key(self) -> str:
        """The key, or a :class:`SettingsError` saying where it is read from (the config
        file's path included: "the config file" alone leaves a newcomer searching)."""
        if not self.key:
            path = self.config_file or config_file_path()
            advice = f'No Generect API key. Set {C.ENV_API_KEY}, or add api_key = "..." to '
            if self.misspelt_key_vars:
                names = " and ".join(self.misspelt_key_vars)
                verb = "is" if len(self.misspelt_key_vars) == 1 else "are"
                typo = f"{names} {verb} set, but the key is read from {C.ENV_API_KEY}: rename it."
                advice = f'No Generect API key: {typo} Or add api_key = "..." to '
            raise SettingsError(
                f"{advice}the config file {path}, or store it in the keyring.",
                details=f"Config file: {path}",
                short=f"{advice}the config file, or store it in the keyring.",
            )
        return self.key


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"Cannot read the config file {path}: {exc}") from exc
    # Accept a [generect] table or top-level keys.
    data = data.get("generect", data)
    unknown = sorted(set(data) - set(ENV_VARS))
    if unknown:
        hints = []
        for name in unknown:
            hint = did_you_mean(closest(name, ENV_VARS, n=1, words=False))
            hints.append(f'"{name}" ({hint})' if hint else f'"{name}"')
        plural = len(unknown) > 1
        what = f"Unknown setting{'s' if plural else ''} {', '.join(hints)} in"
        advice = f"fix or remove {'them' if plural else 'it'}."
        raise SettingsError(
            f"{what} {path}: {advice} Known settings: {', '.join(ENV_VARS)}.",
            short=f"{what} the config file: {advice}",  # a cell has no room for the path
        )
    return data


def _read_keyring() -> str | None:
    try:
        import keyring  # optional dependency
    except ImportError:
        return None
    try:
        return keyring.get_password(C.KEYRING_SERVICE, C.KEYRING_USERNAME)
    except Exception:  # a broken or locked keyring backend must not stop the add-in
        return None


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    use_keyring: bool = True,
    **overrides: Any,
) -> Settings:
    """Build :class:`Settings` from overrides > environment > config file > keyring > defaults.

    Example::

        settings = load_settings(base_url="http://127.0.0.1:8765", api_key="test_demo")
    """
    environ = os.environ if environ is None else environ
    path = config_file if config_file is not None else config_file_path(environ)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, value in _read_config_file(path).items():
        values[name], sources[name] = value, "config"
    for name, var in ENV_VARS.items():
        if environ.get(var):
            values[name], sources[name] = environ[var], "env"
    for name, value in overrides.items():
        if value is not None:
            values[name], sources[name] = value, "init"
    if not normalize_key(str(values["api_key"]) if values.get("api_key") else None) and use_keyring:
        from_keyring = _read_keyring()
        if from_keyring:
            values["api_key"], sources["api_key"] = from_keyring, "keyring"
    values["key_source"] = sources.get("api_key", "none") if values.get("api_key") else "none"
    values["config_file"] = path
    values["misspelt_key_vars"] = tuple(
        name
        for name in sorted(environ)
        if name != C.ENV_API_KEY
        and name.upper().startswith("GENERECT")
        and environ[name]
        and closest(name.upper(), [C.ENV_API_KEY], n=1, cutoff=0.8, words=False)
    )
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            # Where to fix it, by name: "env" alone does not say which variable.
            where = {
                "env": f"from {ENV_VARS.get(field, 'the environment')}",
                "config": f"in {path}",
                "keyring": "from the keyring",
                "init": "given directly",
            }.get(sources.get(field, ""), "default")
            # Never echo the input: it could be the key.
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{field} ({where}): {message}")
        raise SettingsError("Invalid settings: " + "; ".join(problems)) from None
