"""What the figures share: the sandbox, a fresh store per run, settings, statistics, rows.

Every figure runs against the sandbox on 127.0.0.1 (never Generect), with a ``test_`` key
(never debited) and a fresh ``GENERECT_HOME`` (an empty store) per figure or per cold run.
The 100,000-lead population is built once per process and shared by every sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from generect_excel.sandbox import Population, Sandbox, SandboxConfig, build_population
from generect_excel.settings import Settings, load_settings

SEED = 1
LEADS = 100_000
KEY = "test_benchmarks"  # a test key: the sandbox prices every call but never debits it
API_LATENCY = 0.25  # seconds: the latency of figures 2 and 3

__all__ = [
    "API_LATENCY",
    "KEY",
    "LEADS",
    "excel_environment",
    "fresh_home",
    "median",
    "percentile",
    "population",
    "row",
    "sandbox",
    "settings",
    "spread",
]


def population() -> Population:
    """The shared synthetic population (seed 1, 100,000 leads; built once per process)."""
    return build_population(SEED, LEADS, False)


@contextlib.contextmanager
def sandbox(**config: Any) -> Iterator[Sandbox]:
    """A running sandbox on 127.0.0.1 with ``config`` (latency, max_parallel, ...).

    Realtime latency is 0 unless given: the figures measure database calls and this product's
    own overhead, and ``latency`` (every call) stands for the network and the API.
    """
    options: dict[str, Any] = {"seed": SEED, "leads": LEADS, "realtime_latency": 0.0}
    options.update(config)
    with Sandbox(SandboxConfig(**options), population=population()) as server:
        yield server


@contextlib.contextmanager
def fresh_home(prefix: str = "generect-bench-") -> Iterator[Path]:
    """An empty GENERECT_HOME (a temporary folder, removed afterwards)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def settings(server: Sandbox, home: Path, **overrides: Any) -> Settings:
    """Settings on ``server`` with the test key and a store under ``home``; nothing read from
    the user's environment, config file or keyring."""
    return load_settings(
        environ={},
        config_file=home / "no-config.toml",
        use_keyring=False,
        api_key=KEY,
        base_url=server.url,
        home=home,
        **overrides,
    )


@contextlib.contextmanager
def excel_environment(server: Sandbox, home: Path) -> Iterator[None]:
    """The environment Excel's Python process would see (the worksheet functions read their
    settings from it at every call): the sandbox, the test key, ``home``. Restored afterwards."""
    wanted = {
        "GENERECT_BASE_URL": server.url,
        "GENERECT_API_KEY": KEY,
        "GENERECT_HOME": str(home),
        "GENERECT_CONFIG": str(home / "no-config.toml"),
        # Never the machine's own keyring: the environment's test key must be the one used.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    saved = {name: value for name, value in os.environ.items() if name.startswith("GENERECT_")}
    saved_keyring = os.environ.get("PYTHON_KEYRING_BACKEND")
    for name in list(saved):
        del os.environ[name]
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name in wanted:
            os.environ.pop(name, None)
        os.environ.update(saved)
        if saved_keyring is not None:
            os.environ["PYTHON_KEYRING_BACKEND"] = saved_keyring


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def spread(values: Sequence[float], unit: str = "", digits: int = 1) -> str:
    """``"min-max unit"`` of a few runs, or ``"p10-p90"`` of many."""
    if len(values) >= 20:
        low, high, label = percentile(values, 0.1), percentile(values, 0.9), "p10-p90 "
    else:
        low, high, label = min(values), max(values), ""
    return f"{label}{low:.{digits}f}-{high:.{digits}f}{unit}"


def row(
    figure: str,
    what: str,
    measured: str,
    *,
    spread: str = "",
    runs: int | str = "",
    limit: str = "",
    ratio: float | None = None,
    verdict: str | None = None,
    value: float | int | None = None,
) -> dict[str, Any]:
    """One line of the results table.

    ``ratio`` is measured/limit for timings ("pass" when <= 1, else "over"); counts and checks
    give their own ``verdict`` ("pass"/"FAIL"); figures without a limit get "-". ``value`` is
    the raw number behind ``measured`` (for ``--json``).
    """
    if verdict is None:
        verdict = "-" if ratio is None else ("pass" if ratio <= 1.0 else "over")
    return {
        "figure": figure,
        "what": what,
        "measured": measured,
        "spread": spread,
        "runs": runs,
        "limit": limit,
        "ratio": ratio,
        "verdict": verdict,
        "value": value,
    }


def median(values: Sequence[float]) -> float:
    """The median (``statistics.median``), named here so figures read alike."""
    return statistics.median(values)


def figure_main(
    run: Callable[..., dict[str, Any]], description: str, quick_help: str, argv: list[str] | None
) -> int:
    """The command line of one figure's script: ``--quick``, then one line per row."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args(argv)
    for line in run(quick=args.quick)["rows"]:
        print(f"{line['what']}: {line['measured']} ({line['spread']}; limit {line['limit']})")
    return 0
