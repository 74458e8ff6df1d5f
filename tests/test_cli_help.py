"""Every command of ``generect-excel`` explains itself (sqlite-utils' ``test_docs`` idea).

Walks the real parser, so a command added later is checked too: its ``--help`` has a
description with an example command line, and every option and argument says what it is.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from generect_excel.cli import build_parser, main


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(build_parser()))


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path in COMMANDS}
    assert {"check-criteria", "count", "search", "spend", "refresh", "demo", "new"} <= names
    assert {"sandbox", "addin", "addin install", "addin uninstall", "addin status"} <= names


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_a_description_with_an_example(path: tuple[str, ...]) -> None:
    parser = COMMANDS[path]
    description = parser.description or ""
    assert len(description) > 20, f"generect-excel {' '.join(path)} has no description"
    assert f"Example: generect-excel {' '.join(path)}" in " ".join(description.split()), (
        f"generect-excel {' '.join(path)} --help shows no example of itself"
    )


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_option_and_argument_is_explained(path: tuple[str, ...]) -> None:
    for action in COMMANDS[path]._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        assert action.help, f"generect-excel {' '.join(path)}: {action.dest} has no help text"


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_runs(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*path, "--help"])
    assert info.value.code == 0
    # argparse wraps the description (and may break "generect-excel" at its hyphen).
    assert "Example:" in capsys.readouterr().out


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`generect-excel check-criteria FILE | head -1` must not print a traceback."""
    import subprocess
    import sys

    criteria = tmp_path / "c.toml"
    # More than a pipe's buffer (64 KiB), so the write really hits the closed pipe.
    titles = ", ".join(f'"Title number {i}"' for i in range(6000))
    criteria.write_text(f'"Job titles" = [{titles}]\nLocation = "Germany"\n')
    main = "import sys; from generect_excel.cli import main; sys.exit(main())"
    proc = subprocess.run(
        f'"{sys.executable}" -c "{main}" check-criteria "{criteria}" | head -c 1',
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout == "{"
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
