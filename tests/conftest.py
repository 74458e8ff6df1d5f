"""Shared fixtures and checks.

Sandbox (see ``generect_excel.sandbox``):

- ``sandbox``: a running sandbox on 127.0.0.1 (one server per session, 20,000 leads, seed 7,
  no realtime latency), reset before each test: empty log, opening balances ($100 per key),
  no queued faults. ``sandbox.url`` is the base URL; any key works, ``test_...`` keys are
  test mode.
- ``sandbox_factory(**config)``: a sandbox of your own (latency, balance, max_parallel, ...),
  stopped after the test; it shares the session's population when seed/leads/clean match.
- ``sandbox_population``: the session's population, to compute expected answers.

Every answer these sandboxes send is checked against Generect's spec (issue 3): the sandboxes
run with a response observer (:class:`SpecWatch`) that validates each one and keeps what does
not conform; the test that made the request fails at its teardown, naming each violation. So
does any other sandbox a test starts in this process without an observer of its own (the
demo's, say): ``_every_sandbox_checked`` gives it one. Sandboxes in child processes (the
benchmark runs, ``generect-excel sandbox`` started as a command) are not observed.
Skipped, because the spec does not describe them: the sandbox's own ``/_sandbox/`` admin API
and the answers of the faults that are broken on purpose (``malformed_json``, ``html_error``,
``drop``, ``hang``: they exist to violate it).

Spec conformance:

- ``assert_conforms(response, path=None, method=None)``: the httpx response validates against
  the response schema Generect's ``openapi.yaml`` gives for that path, method and status (an
  undocumented error status against the spec's ``Error`` envelope). Returns the decoded JSON.
- ``conforming_client(base_url, key=None, **kwargs)``: an ``httpx.Client`` that runs
  ``assert_conforms`` on every answer from Generect's paths (not the sandbox's ``/_sandbox/``
  admin API), so a test cannot forget to.
  Import both with ``from conftest import assert_conforms, conforming_client``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from generect_excel.sandbox import Population, Sandbox, SandboxConfig, build_population
from store_backends import BACKENDS, Harness

SANDBOX_SEED = 7
SANDBOX_LEADS = 20_000
# A verbatim copy of ../shared/generect-api/openapi.yaml, so a clean clone can run the tests.
OPENAPI_PATH = Path(__file__).parent / "data" / "generect-openapi.yaml"


# --------------------------------------------------------------------------- sandbox
# Faults whose answers are broken on purpose: truncated JSON, an HTML 502, a cut connection,
# no answer at all. The spec cannot describe them; everything else a sandbox sends, it must.
BROKEN_ON_PURPOSE = frozenset({"malformed_json", "html_error", "drop", "hang", "charged_drop"})


class SpecWatch:
    """A sandbox response observer: checks every answer against Generect's spec and keeps the
    violations (with a lock: the server answers on its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._violations: list[str] = []
        self.checked = 0

    def __call__(
        self,
        method: str,
        path: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        fault: str | None = None,
    ) -> None:
        if path.startswith("/_sandbox/"):
            return  # the sandbox's own admin API is not Generect's
        if fault in BROKEN_ON_PURPOSE:
            return  # broken on purpose (see the module docstring)
        try:
            check_answer(method, path, status, headers.get("content-type", ""), body)
        except Exception as exc:  # kept for the test's teardown, reported there
            text = " ".join(str(exc).split())[:600]
            with self._lock:
                self._violations.append(f"{method} {path} -> {status}: {text}")
        else:
            with self._lock:
                self.checked += 1

    def take(self) -> list[str]:
        """The violations seen since the last call (and forget them)."""
        with self._lock:
            found, self._violations = self._violations, []
        return found


def fail_on_violations(watch: SpecWatch, when: str = "") -> None:
    """Fail the current test (at its teardown) if ``watch`` saw answers the spec rejects."""
    found = watch.take()
    if found:
        pytest.fail(
            f"the sandbox sent {len(found)} answer(s) that Generect's spec rejects{when}:\n"
            + "\n".join(f"  {v}" for v in found),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _every_sandbox_checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A sandbox a test starts itself, without an observer, gets a SpecWatch too."""
    from generect_excel.sandbox import server as sandbox_server

    watch = SpecWatch()
    plain = sandbox_server.SandboxApp

    def observed_app(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("observer") is None:
            kwargs["observer"] = watch
        return plain(*args, **kwargs)

    monkeypatch.setattr(sandbox_server, "SandboxApp", observed_app)
    yield
    fail_on_violations(watch)


@pytest.fixture(autouse=True)
def _fresh_concurrency_limits() -> None:
    """Each test starts at max_parallel: no limit learned from another test's 429s."""
    from generect_excel.throttle import reset_limiters

    reset_limiters()


def _test_config(**overrides: Any) -> SandboxConfig:
    options: dict[str, Any] = {
        "seed": SANDBOX_SEED,
        "leads": SANDBOX_LEADS,
        "realtime_latency": 0.0,
        "slow_seconds": 0.05,
    }
    options.update(overrides)
    return SandboxConfig(**options)


@pytest.fixture(scope="session")
def sandbox_population() -> Population:
    """The synthetic population the test sandboxes serve (built once per session)."""
    return build_population(SANDBOX_SEED, SANDBOX_LEADS, False)


@pytest.fixture(scope="session")
def _spec_watch() -> SpecWatch:
    return SpecWatch()


@pytest.fixture(scope="session")
def _sandbox_server(
    sandbox_population: Population,
    tmp_path_factory: pytest.TempPathFactory,
    _spec_watch: SpecWatch,
) -> Iterator[Sandbox]:
    log_path = tmp_path_factory.mktemp("sandbox") / "requests.jsonl"
    config = _test_config(log_path=log_path)
    with Sandbox(config, population=sandbox_population, observer=_spec_watch) as server:
        yield server


@pytest.fixture
def sandbox(_sandbox_server: Sandbox, _spec_watch: SpecWatch) -> Iterator[Sandbox]:
    """The session's sandbox with a fresh log, opening balances and no queued faults; the test
    fails if an answer it got does not conform to Generect's spec."""
    _sandbox_server.reset()
    # Answered after the test that asked had ended (a late background call): say so here.
    fail_on_violations(_spec_watch, " after an earlier test ended")
    yield _sandbox_server
    fail_on_violations(_spec_watch)


@pytest.fixture
def sandbox_factory(
    sandbox_population: Population,
) -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with their own settings: ``sandbox_factory(max_parallel=2)``. Their
    answers are checked against Generect's spec like the session sandbox's."""
    started: list[Sandbox] = []
    watch = SpecWatch()

    def make(**overrides: Any) -> Sandbox:
        config = _test_config(**overrides)
        shared = (config.seed, config.leads, config.clean) == (
            SANDBOX_SEED,
            SANDBOX_LEADS,
            False,
        )
        population = sandbox_population if shared else None
        server = Sandbox(config, population=population, observer=watch)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()
    fail_on_violations(watch)


# --------------------------------------------------------------------------- conformance
@cache
def _spec() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with OPENAPI_PATH.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = _spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@cache
def _validator(schema_json: str) -> OAS30Validator:
    schema = json.loads(schema_json)
    return OAS30Validator({**schema, "components": _spec()["components"]})


def _spec_path(path: str) -> str:
    """The spec's name for ``path``: itself, or the template it fills (``.../{job_id}/``)."""
    paths = _spec()["paths"]
    if path in paths:
        return path
    parts = path.split("/")
    for template in paths:
        pieces = template.split("/")
        if len(pieces) == len(parts) and all(
            p == q or (q.startswith("{") and q.endswith("}") and p)
            for p, q in zip(parts, pieces, strict=True)
        ):
            return template
    return path


def response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    """The JSON schema the spec gives for an answer (the Error envelope for an undocumented
    error status: the spec calls it the "standard error envelope returned for 4xx/5xx")."""
    operation = _spec()["paths"].get(_spec_path(path), {}).get(method.lower())
    documented = (operation or {}).get("responses", {}).get(str(status))
    if documented is not None:
        content = _resolve(documented).get("content", {})
        if "application/json" not in content:
            raise AssertionError(f"{method} {path} {status}: the spec documents no JSON body")
        return content["application/json"]["schema"]
    if status >= 400:
        return {"$ref": "#/components/schemas/Error"}
    raise AssertionError(f"{method} {path} answered {status}, which the spec does not document")


def check_answer(method: str, path: str, status: int, content_type: str, content: bytes) -> Any:
    """Check one answer (its status, content type and raw body) against Generect's spec;
    return its decoded JSON body."""
    assert content_type.startswith("application/json"), f"{method} {path}: {content_type!r}"
    body = json.loads(content)
    schema = response_schema(path, method, status)
    _validator(json.dumps(schema, sort_keys=True)).validate(body)
    if status >= 400:
        # Stricter than the spec, as Generect answers: the envelope names its own status.
        assert body.get("status") == "error", body
        assert body.get("status_code") == status, body
    return body


def assert_conforms(
    response: httpx.Response, path: str | None = None, method: str | None = None
) -> Any:
    """Check ``response`` against Generect's spec; return its decoded JSON body."""
    path = path or urlsplit(str(response.request.url)).path
    method = method or response.request.method
    content_type = response.headers.get("content-type", "")
    return check_answer(method, path, response.status_code, content_type, response.content)


def _check_answer(response: httpx.Response) -> None:
    if urlsplit(str(response.request.url)).path.startswith("/_sandbox/"):
        return  # the sandbox's own admin API is not Generect's
    response.read()
    assert_conforms(response)


def conforming_client(
    base_url: str, key: str | None = None, *, headers: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Client:
    """An httpx client for ``base_url`` (``Authorization: Token <key>`` when ``key`` is given)
    whose every answer is checked against Generect's spec."""
    all_headers = {"Authorization": f"Token {key}"} if key is not None else {}
    all_headers.update(headers or {})
    kwargs.setdefault("timeout", 30)
    return httpx.Client(
        base_url=base_url,
        headers=all_headers,
        event_hooks={"response": [_check_answer]},
        **kwargs,
    )


# --------------------------------------------------------------------------- PostgreSQL
# The team store (issue 15) runs its tests on a real server: one throw-away cluster per session
# (generect_excel.sandbox.postgres: the system's initdb/pg_ctl when installed, else those of the
# pgserver wheel that the test extra installs; as an unprivileged account under root), a fresh
# database per test. GENERECT_TEST_PG_BIN picks the programs: auto (default), system, wheel, or
# a folder. Where neither the system nor the wheel has them (a platform without pgserver wheels
# and no PostgreSQL installed) these tests are skipped, except under CI.


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A running throw-away PostgreSQL cluster on 127.0.0.1, removed after the session."""
    import os

    from generect_excel.sandbox.postgres import LocalPostgres, PostgresNotInstalledError

    try:
        server = LocalPostgres(programs=os.environ.get("GENERECT_TEST_PG_BIN", "auto"))
    except PostgresNotInstalledError as exc:
        if os.environ.get("CI"):
            raise  # CI has PostgreSQL (the wheel or the system's): its absence is a defect
        pytest.skip(str(exc))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """The URL of a fresh, empty database on the session's PostgreSQL cluster."""
    return str(postgres_server.create_database())


@pytest.fixture(params=sorted(BACKENDS))
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """Each store backend in turn (tests/store_backends.py): a test taking it runs per backend."""
    if request.param == "postgres":  # a fresh database on the session's cluster
        harness = BACKENDS[request.param](tmp_path, request.getfixturevalue("postgres_url"))
    else:
        harness = BACKENDS[request.param](tmp_path)
    try:
        yield harness
    finally:
        harness.close()
