"""The demo: two template workbooks filled from the sandbox, with no key, no network, no money.

:func:`run_demo` starts the sandbox in this process (127.0.0.1, synthetic leads), points a
fresh store under the output folder at it with a ``test_`` key (so the user's own store,
ledger and settings are never touched), copies the lead-list and market-sizing templates (their
example criteria are already filled in), refreshes both through the same engine and refresher
as ``generect-excel refresh``, and returns the summaries and the paths.

Example::

    result = run_demo(Path("generect-demo"))
    for path in result.workbooks:
        print(path)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..engine import Engine
from ..settings import load_settings
from ..workbook.refresher import RefreshSummary, refresh_workbook

__all__ = ["DEMO_KEY", "DEMO_TEMPLATES", "DemoResult", "run_demo"]

DEMO_TEMPLATES = ("lead-list", "market-sizing")
DEMO_KEY = "test_demo"  # a test-mode key: the sandbox, like Generect, never debits it
DEMO_HOME = ".generect-demo-store"
# The sandbox's realtime calls pause like Generect's, but briefly: the demo stays quick.
DEMO_REALTIME_LATENCY = 0.5


@dataclass
class DemoResult:
    """The filled workbooks, their refresh summaries, and the demo's private store folder."""

    workbooks: list[Path] = field(default_factory=list)
    summaries: list[RefreshSummary] = field(default_factory=list)
    home: Path | None = None


def run_demo(
    directory: Path,
    *,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Fill the demo workbooks in ``directory`` (created if needed) from an in-process sandbox.

    ``progress`` receives one line per step. Existing demo workbooks there are replaced.
    """
    from ..sandbox import Sandbox, SandboxConfig  # the sandbox's web stack only for the demo
    from ..templates import write_template

    say = progress or (lambda line: None)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    home = directory / DEMO_HOME
    result = DemoResult(home=home)
    with Sandbox(SandboxConfig(realtime_latency=DEMO_REALTIME_LATENCY)) as sandbox:
        say(f"Sandbox (offline imitation of the Generect API) on {sandbox.url}")
        settings = load_settings(
            environ={},  # never the user's key, URL or store
            config_file=home / "config.toml",
            use_keyring=False,
            api_key=DEMO_KEY,
            base_url=sandbox.url,
            home=home,
        )
        engine = Engine(settings)
        for name in DEMO_TEMPLATES:
            path = write_template(name, directory / f"{name}.xlsx")
            say(f"Refreshing {path.name} ...")
            summary = refresh_workbook(path, engine, confirm=lambda quote: True)
            result.workbooks.append(path)
            result.summaries.append(summary)
    return result
