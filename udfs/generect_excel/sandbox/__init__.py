"""The sandbox: an offline imitation of the Generect API, for demos, tests and benchmarks.

It serves Generect's lead search and count endpoints (database and realtime) and the account
endpoint on 127.0.0.1, over a deterministic synthetic population of invented people and
companies (never Generect's data), with Generect's prices, error envelope, validation
messages, test mode, parallel cap and fault-injection header.

    from generect_excel.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(realtime_latency=0)) as sb:
        ...  # point GENERECT_BASE_URL at sb.url; any key works, "test_..." keys never debit

Modules: :mod:`.population` (the leads), :mod:`.search` (filters), :mod:`.validation`
(Generect's 400s), :mod:`.faults`, :mod:`.requestlog`, :mod:`.accounts`, :mod:`.app` (the
Starlette application), :mod:`.server` (:class:`Sandbox`).
"""

from __future__ import annotations

from .config import SandboxConfig
from .faults import FAULTS, Fault, parse_fault
from .population import Population, build_population
from .requestlog import BILLED_PATHS
from .server import Sandbox

__all__ = [
    "BILLED_PATHS",
    "FAULTS",
    "Fault",
    "Population",
    "Sandbox",
    "SandboxConfig",
    "build_population",
    "parse_fault",
]
