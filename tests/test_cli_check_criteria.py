"""``generect-excel check-criteria``: the exact body, or every problem, for free."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from generect_excel.cli import build_parser, main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def offline_and_keyless(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No key, an empty home, and any network use fails the test."""
    monkeypatch.delenv("GENERECT_API_KEY", raising=False)
    monkeypatch.setenv("GENERECT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "missing-config.toml"))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("check-criteria must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return tmp_path


def test_seed_explains_software_is_not_an_industry(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check-criteria", str(EXAMPLES / "seed.toml")])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        'Industry: "Software" is not a valid industry; did you mean "Software Development"'
    )


def test_fixed_seed_prints_the_exact_body(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check-criteria", str(EXAMPLES / "seed-fixed.toml")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out) == {
        "job_titles": ["CEO", "Founder"],
        "seniorities": ["c_suite"],
        "locations": ["San Francisco, CA"],
        "company_industries": ["Software Development"],
        "company_headcounts": ["51-200"],
        "limit_by": 50,
    }
    assert out.startswith('{\n  "job_titles": [\n    "CEO",')  # indent 2


def test_each_problem_on_its_own_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"Jbo title": "CEO", "Seniority": "Boss", "Keywords": "ml", "Limit": 1.5}),
        encoding="utf-8",
    )
    assert main(["check-criteria", str(path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith('Unknown criteria label "Jbo title"; did you mean "Job titles"')
    assert "Limit: 1.5 is not a whole number" in lines
    assert "Keywords works only in realtime mode: use mode realtime" in lines
    assert any(line.startswith('Seniority: "Boss" is not a valid seniority') for line in lines)


def test_mode_option_overrides_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text('mode = "database"\nKeywords = "kubernetes, rust"\n', encoding="utf-8")
    assert main(["check-criteria", str(path)]) == 1
    assert "Keywords works only in realtime mode" in capsys.readouterr().err
    assert main(["check-criteria", str(path), "--mode", "realtime"]) == 0
    assert json.loads(capsys.readouterr().out) == {"keywords": ["kubernetes", "rust"]}


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-criteria", str(tmp_path / "nope.toml")]) == 1
    assert "Cannot read the criteria file" in capsys.readouterr().err


def test_help_has_an_example() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    text = sub.choices["check-criteria"].format_help()
    assert "--mode" in text and "generect-excel check-criteria criteria.toml" in text


def test_console_script_runs_in_a_fresh_process(offline_and_keyless: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from generect_excel.cli import main; sys.exit(main(sys.argv[1:]))",
            "check-criteria",
            str(EXAMPLES / "seed-fixed.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GENERECT_HOME": str(offline_and_keyless / "home"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["seniorities"] == ["c_suite"]
    assert not (offline_and_keyless / "home").exists()  # nothing written
