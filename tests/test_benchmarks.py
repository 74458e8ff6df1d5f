"""The performance suite keeps working: ``benchmarks/run.py --quick`` runs every figure.

Timings are never asserted (they depend on the machine); what is checked is that every
figure completes and prints its row, and the counts that do not depend on speed: no API call
when recalculating from the store, one API call for 200 identical calls, no openpyxl or web
framework imported by the worksheet functions' module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # the quick suite takes 15-30 s

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
GUARD_SECONDS = 600  # only reached if something hangs


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Nothing from the developer's own setup: the suite makes its own homes and keys.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENERECT_")}
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=GUARD_SECONDS,
    )


@pytest.fixture(scope="module")
def quick_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    folder = tmp_path_factory.mktemp("bench")
    out = folder / "results.json"
    done = _run("--quick", "--json", str(out), cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return done, json.loads(out.read_text(encoding="utf-8"))


def _rows(results: dict[str, Any], figure: str) -> list[dict[str, Any]]:
    return [row for row in results["rows"] if row["figure"] == figure]


def test_every_figure_completes_and_prints_its_row(quick_run: Any) -> None:
    done, results = quick_run
    assert "Traceback" not in done.stderr
    assert all("error" not in figure for figure in results["figures"].values())
    table = done.stdout.splitlines()
    header = next(i for i, line in enumerate(table) if line.startswith("fig "))
    printed = [line.split()[0] for line in table[header + 2 :] if line.strip()][:-1]
    for figure in ("1", "2", "3", "4", "5", "6", "7", "8", "10", "11"):
        rows = _rows(results, figure)
        assert rows, f"figure {figure} has no row"
        assert printed.count(figure) == len(rows)
        for row in rows:
            assert row["measured"] and row["verdict"] in ("pass", "over", "-"), row
            assert f"{row['measured']}" in done.stdout
    # Figure 4 has both halves: shaping the table and writing the workbook.
    assert len(_rows(results, "4")) == 2


def test_the_machine_is_reported(quick_run: Any) -> None:
    done, results = quick_run
    machine = results["machine"]
    assert machine["cores"] and machine["python"] and machine["os"] and machine["date"]
    assert f"{machine['cores']} cores" in done.stdout and machine["python"] in done.stdout
    assert results["mode"] == "quick"


def test_recalculation_from_the_store_makes_no_api_call(quick_run: Any) -> None:
    _, results = quick_run
    figure = results["figures"]["1"]
    assert figure["api_calls"] == 0
    assert figure["calls"] > 0 and figure["rows_per_call"] > 0


def test_identical_cold_calls_make_one_api_call(quick_run: Any) -> None:
    _, results = quick_run
    figure = results["figures"]["2"]
    assert figure["callers"] == 200
    assert figure["api_calls_per_run"] and set(figure["api_calls_per_run"]) == {1}


def test_the_refresh_fetches_each_formula_once_in_parallel(quick_run: Any) -> None:
    _, results = quick_run
    figure = results["figures"]["3"]
    assert figure["parallel_cap"] >= 1
    assert figure["ideal_s"] == pytest.approx(
        -(-figure["formulas"] // figure["parallel_cap"]) * 0.25
    )
    assert figure["sequential_s"] > 0 and len(figure["wall_s"]) >= 2


def test_figure_3_runs_the_cli_as_a_process_against_the_real_cap(quick_run: Any) -> None:
    _, results = quick_run
    figure = results["figures"]["3"]
    assert figure["parallel_cap"] == 50  # Generect's lead-search cap, not the default 8
    assert len(figure["peak_mb"]) == len(figure["wall_s"])
    # A whole process: it pays the interpreter's start-up, measured beside it.
    assert all(mb > 0 for mb in figure["peak_mb"]) and figure["startup_s"]


def test_the_scaling_figure_refreshes_on_the_paid_path_and_warm_makes_no_call(
    quick_run: Any,
) -> None:
    _, results = quick_run
    figure = results["figures"]["11"]
    assert len(figure["sizes"]) >= 2 and figure["parallel_cap"] == 50
    for layout in ("criteria_sheet", "beside"):
        series = figure["layouts"][layout]
        for n, distinct in zip(figure["sizes"], figure["distinct"], strict=True):
            n = str(n)  # JSON keys
            assert distinct == (int(n) + 1) // 2  # half the formulas are distinct
            # Cold: one API call per distinct question, each debited (a live-style key).
            for cold in ("cold", "cold_250ms"):
                assert set(series[cold]["api_calls"][n]) == {distinct}
                assert all(usd > 0 for usd in series[cold]["debited"][n])
            # Warm and dry run: nothing billable sent.
            assert set(series["warm"]["api_calls"][n]) == {0}
            assert set(series["dry_run"]["api_calls"][n]) == {0}
            for data in series.values():
                assert data["failed"][n] == []
                assert all(mb > 0 for mb in data["peak_mb"][n])
        for data in series.values():
            assert data["exponent"] is not None and data["per_formula_ms"] >= 0
    assert figure["big_search"]["rows"] == 2400 and figure["big_search"]["failed"] == []
    # Per layout: four series and the peak memory; then the 2,400-row search and the start-up.
    assert len(_rows(results, "11")) == 2 * 5 + 2


def test_throttled_searches_all_succeed_and_the_429s_are_counted(quick_run: Any) -> None:
    _, results = quick_run
    figure = results["figures"]["8"]
    assert "error" not in figure  # any cell or refresh that failed raises, so this is 60/60
    assert (figure["searches"], figure["server_cap"]) == (60, 5)
    assert figure["ideal_s"] == pytest.approx(3.0)
    for way in ("functions", "refresh"):
        assert len(figure[way]["wall_s"]) >= 2
        # The client starts above the server's cap (8 > 5), so it is throttled at first.
        assert all(count > 0 for count in figure[way]["429s"])


def test_the_worksheet_module_imports_no_openpyxl_or_web_framework(quick_run: Any) -> None:
    _, results = quick_run
    figure = results["figures"]["5"]
    assert figure["forbidden_imported"] == []
    assert "xlwings" in figure["imported"]  # the check does see what the import loads


def test_a_week_of_net_new_searches_buys_no_lead_twice(quick_run: Any) -> None:
    _, results = quick_run
    figure = results["figures"]["7"]
    on, off = figure["week_net_new"], figure["week_plain"]
    assert on["bought"] > 0 and on["twice_per_1000"] == 0
    assert on["agree"] and off["agree"]  # the ledger's rows and the register's purchases
    assert off["twice_per_1000"] > 0  # without New leads only, the week pays twice
    assert figure["register_size"] == 100_000
    assert figure["body_bytes"]["empty"] < figure["body_bytes"]["capped"]
    assert figure["body_bytes"]["capped"] < figure["body_bytes"]["all"]


def test_the_team_store_answers_recalculation_and_coalesces_across_laptops(
    quick_run: Any,
) -> None:
    _, results = quick_run
    figure = results["figures"]["10"]
    assert figure["postgres_ms"] > 0 and figure["sqlite_ms"] > 0  # timed only from the store
    assert figure["processes"] == 8 and set(figure["api_calls_per_run"]) == {1}


def test_an_unknown_figure_is_refused(tmp_path: Path) -> None:
    done = _run("--only", "1,9", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown figure(s) 9" in done.stderr
