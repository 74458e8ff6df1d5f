"""``generect-excel preview``, ``enrich`` and ``email`` against the sandbox over HTTP."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generect_excel import _constants as C
from generect_excel.cli import main
from generect_excel.client import close_shared_clients

KEY = "live_SECRET_cli_picks"


@pytest.fixture
def env(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("GENERECT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("GENERECT_BASE_URL", sandbox.url)
    monkeypatch.setenv("GENERECT_API_KEY", KEY)
    criteria = tmp_path / "ceos.toml"
    criteria.write_text('seniorities = ["C-Suite"]\nlocations = ["United States"]\n')
    yield criteria
    close_shared_clients()


def paths(sandbox: Any, path: str) -> int:
    return sum(1 for e in sandbox.log_entries() if e["path"] == path)


def test_preview_tick_enrich_email(
    env: Path, sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preview", str(env), "--dry-run"]) == 0
    dry = capsys.readouterr()
    assert json.loads(dry.out)["lead_search_criteria"]["limit_by"] == C.PREVIEW_DEFAULT_LIMIT
    assert "up to $0.20" in dry.err and paths(sandbox, C.PATH_PREVIEW_LEADS) == 0

    out = tmp_path / "preview.csv"
    assert main(["preview", str(env), "--limit", "30", "--csv", str(out)]) == 0
    assert "30 masked rows" in capsys.readouterr().err
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == "id" and len(rows) == 31
    # The analyst ticks three rows in a Buy column.
    picked = tmp_path / "picked.csv"
    with picked.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Buy", *rows[0]])
        for i, row in enumerate(rows[1:]):
            writer.writerow(["x" if i in (0, 5, 9) else "", *row])
    assert main(["enrich", "--ids-file", str(picked), "--dry-run"]) == 0
    assert "up to $0.06" in capsys.readouterr().out
    bought = tmp_path / "bought.csv"
    assert main(["enrich", "--ids-file", str(picked), "--csv", str(bought)]) == 0
    assert "3 bought" in capsys.readouterr().err
    assert paths(sandbox, C.PATH_ENRICH_DATABASE_LEAD) == 3
    assert main(["enrich", "--ids-file", str(picked)]) == 0  # again: stored, free
    assert "3 stored" in capsys.readouterr().err
    assert paths(sandbox, C.PATH_ENRICH_DATABASE_LEAD) == 3

    assert main(["email", "--ids-file", str(bought)]) == 0
    first = capsys.readouterr()
    assert main(["email", "--ids-file", str(bought)]) == 0
    assert capsys.readouterr().out == first.out
    assert paths(sandbox, C.PATH_EMAIL_FIND) == 3
    assert KEY not in first.err
