"""What the figures share: the sandbox, a fresh store per run, settings, statistics, rows.

Every figure runs against the sandbox on 127.0.0.1 (never Generect) and a fresh
``GENERECT_HOME`` (an empty store) per figure or per cold run, with a live-style key (not
``test_``): the sandbox debits it as Generect would, and the product takes its paid path, the
budget check and the reservation held in the store's claim, which a test key skips. The
sandbox's balance and the budget's caps are set far above what any figure spends, so nothing
is refused. The 100,000-lead population is built once per process and shared by every sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from generect_excel.sandbox import Population, Sandbox, SandboxConfig, build_population
from generect_excel.settings import Settings, load_settings

SEED = 1
LEADS = 100_000
# A live-style key (no ``test_`` prefix): the budget and reservation path runs, as for an analyst.
KEY = "live_benchmarks"
TEST_MODE = KEY.startswith("test_")  # what the store records as test mode for KEY's purchases
API_LATENCY = 0.25  # seconds: the latency of figures 2 and 3
# The sandbox account's opening balance and monthly limit (USD), and the budget's caps: far
# above what any figure spends (a 3,000-formula cold refresh buys 15,000 rows, $300).
BALANCE = Decimal("10000000")
BUDGET: dict[str, Decimal] = {
    "max_spend_per_request": Decimal("100000"),
    "max_spend_per_day": Decimal("10000000"),
    "confirm_above": Decimal("10000000"),
}
# The command line as an analyst runs it: the console script beside this interpreter (what
# ``pip install`` made), else the same entry point through ``-c``. Either imports
# generect_excel from this process's path (PYTHONPATH is passed on), so it measures this code.
_SCRIPT = Path(sys.executable).with_name("generect-excel")
CLI = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-c", "import sys; from generect_excel.cli import main; sys.exit(main())"]
)

__all__ = [
    "API_LATENCY",
    "BALANCE",
    "BUDGET",
    "CLI",
    "KEY",
    "LEADS",
    "TEST_MODE",
    "Process",
    "cli_environment",
    "excel_environment",
    "fresh_home",
    "median",
    "percentile",
    "population",
    "row",
    "run_cli",
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
    options: dict[str, Any] = {
        "seed": SEED,
        "leads": LEADS,
        "realtime_latency": 0.0,
        "balance": BALANCE,
        "monthly_limit": BALANCE,
    }
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
    """Settings on ``server`` with the benchmark key, the high budget and a store under
    ``home``; nothing read from the user's environment, config file or keyring."""
    return load_settings(
        environ={},
        config_file=home / "no-config.toml",
        use_keyring=False,
        api_key=KEY,
        base_url=server.url,
        home=home,
        **{**BUDGET, **overrides},
    )


@contextlib.contextmanager
def excel_environment(server: Sandbox, home: Path) -> Iterator[None]:
    """The environment Excel's Python process would see (the worksheet functions read their
    settings from it at every call): the sandbox, the benchmark key and budget, ``home``.
    Restored afterwards."""
    wanted = _environment(server, home)
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


def _environment(server: Sandbox, home: Path, **settings: Any) -> dict[str, str]:
    from generect_excel.settings import ENV_VARS

    wanted = {
        "GENERECT_BASE_URL": server.url,
        "GENERECT_API_KEY": KEY,
        "GENERECT_HOME": str(home),
        "GENERECT_CONFIG": str(home / "no-config.toml"),
        # Never the machine's own keyring: the environment's key must be the one used.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    for name, value in {**BUDGET, **settings}.items():
        wanted[ENV_VARS[name]] = str(value)
    return wanted


def cli_environment(server: Sandbox, home: Path, **settings: Any) -> dict[str, str]:
    """The environment of a ``generect-excel`` command on ``server`` with the benchmark key and
    budget, a store under ``home`` and ``settings`` (names as in :class:`Settings`, e.g.
    ``max_parallel=50``): this process's own, minus every ``GENERECT_`` variable it had, with
    the folder of the ``generect_excel`` imported here first on ``PYTHONPATH``, so the command
    runs the very code this process measures (a worktree's, not an installed copy)."""
    import generect_excel

    env = {k: v for k, v in os.environ.items() if not k.startswith("GENERECT_")}
    env.update(_environment(server, home, **settings))
    source = str(Path(generect_excel.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(
        [source, *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    )
    return env


@dataclass(frozen=True)
class Process:
    """One finished command: wall seconds, peak resident memory (MB), exit status, output."""

    seconds: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str


# GNU time measures the peak memory of its own child, forked from a 1 MB process. The kernel's
# figure for a child of ours (os.wait4) would not do on Linux: a child keeps the high-water mark
# of the address space it was forked from (this process, sandbox and 100,000 leads included).
_GNU_TIME = Path("/usr/bin/time")


def run_cli(args: Sequence[str], env: dict[str, str], *, timeout: float = 3600) -> Process:
    """Run ``generect-excel ARGS`` as a process of its own and measure it: the wall time from
    start to exit (interpreter start-up and imports included, as the analyst waits for them)
    and its peak resident set size, by GNU time (``/usr/bin/time -f %M``) where it is installed,
    else the kernel's account of the child (``os.wait4``; on Linux at least this process's own
    size when it started the child). A command still running after ``timeout`` seconds is
    killed (its exit status says so)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".time") as peak,
    ):
        timed = _GNU_TIME.exists()
        command = [*CLI, *args]
        if timed:
            command = [str(_GNU_TIME), "-f", "%M", "-o", peak.name, *command]
        start = time.perf_counter()
        # A session of its own: a hung command is killed with GNU time's child, not only time.
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err, start_new_session=True)
        guard = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
        guard.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            guard.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if timed:
            # The last line: GNU time puts "Command exited with non-zero status N" before it.
            kilobytes = int(peak.read().split()[-1])
        else:  # ru_maxrss is in kilobytes on Linux, in bytes on macOS
            kilobytes = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
        return Process(
            seconds,
            kilobytes * 1024 / 1e6,
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


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
