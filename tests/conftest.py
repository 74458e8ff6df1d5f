"""Shared fixtures and checks.

Sandbox (see ``generect_excel.sandbox``):

- ``sandbox``: a running sandbox on 127.0.0.1 (one server per session, 20,000 leads, seed 7,
  no realtime latency), reset before each test: empty log, opening balances ($100 per key),
  no queued faults. ``sandbox.url`` is the base URL; any key works, ``test_...`` keys are
  test mode.
- ``sandbox_factory(**config)``: a sandbox of your own (latency, balance, max_parallel, ...),
  stopped after the test; it shares the session's population when seed/leads/clean match.
- ``sandbox_population``: the session's population, to compute expected answers.

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
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from generect_excel.sandbox import Population, Sandbox, SandboxConfig, build_population

SANDBOX_SEED = 7
SANDBOX_LEADS = 20_000
# A verbatim copy of ../shared/generect-api/openapi.yaml, so a clean clone can run the tests.
OPENAPI_PATH = Path(__file__).parent / "data" / "generect-openapi.yaml"


# --------------------------------------------------------------------------- sandbox
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
def _sandbox_server(
    sandbox_population: Population, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    log_path = tmp_path_factory.mktemp("sandbox") / "requests.jsonl"
    with Sandbox(_test_config(log_path=log_path), population=sandbox_population) as server:
        yield server


@pytest.fixture
def sandbox(_sandbox_server: Sandbox) -> Sandbox:
    """The session's sandbox with a fresh log, opening balances and no queued faults."""
    _sandbox_server.reset()
    return _sandbox_server


@pytest.fixture
def sandbox_factory(
    sandbox_population: Population,
) -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with their own settings: ``sandbox_factory(max_parallel=2)``."""
    started: list[Sandbox] = []

    def make(**overrides: Any) -> Sandbox:
        config = _test_config(**overrides)
        shared = (config.seed, config.leads, config.clean) == (
            SANDBOX_SEED,
            SANDBOX_LEADS,
            False,
        )
        server = Sandbox(config, population=sandbox_population if shared else None)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


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


def response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    """The JSON schema the spec gives for an answer (the Error envelope for an undocumented
    error status: the spec calls it the "standard error envelope returned for 4xx/5xx")."""
    operation = _spec()["paths"].get(path, {}).get(method.lower())
    documented = (operation or {}).get("responses", {}).get(str(status))
    if documented is not None:
        content = _resolve(documented).get("content", {})
        if "application/json" not in content:
            raise AssertionError(f"{method} {path} {status}: the spec documents no JSON body")
        return content["application/json"]["schema"]
    if status >= 400:
        return {"$ref": "#/components/schemas/Error"}
    raise AssertionError(f"{method} {path} answered {status}, which the spec does not document")


def assert_conforms(
    response: httpx.Response, path: str | None = None, method: str | None = None
) -> Any:
    """Check ``response`` against Generect's spec; return its decoded JSON body."""
    path = path or urlsplit(str(response.request.url)).path
    method = method or response.request.method
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), f"{method} {path}: {content_type!r}"
    body = response.json()
    schema = response_schema(path, method, response.status_code)
    _validator(json.dumps(schema, sort_keys=True)).validate(body)
    if response.status_code >= 400:
        # Stricter than the spec, as Generect answers: the envelope names its own status.
        assert body.get("status") == "error", body
        assert body.get("status_code") == response.status_code, body
    return body


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
