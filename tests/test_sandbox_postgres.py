"""The throw-away PostgreSQL cluster (generect_excel.sandbox.postgres): where its programs come
from, and that the ones of the pgserver wheel (what ``pip install -e '.[test]'`` brings on a
machine without PostgreSQL) start a server the team store works on."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from generect_excel.sandbox.postgres import LocalPostgres, PostgresNotInstalledError, find_bindir


def fake_programs(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("initdb", "pg_ctl"):
        program = folder / name
        program.write_text("#!/bin/sh\nexit 1\n")
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return folder


def test_the_system_programs_on_path_come_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = fake_programs(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{on_path}{os.pathsep}{os.environ['PATH']}")
    assert find_bindir("system") == on_path
    assert find_bindir("auto") == on_path  # over the wheel's, when both exist


def test_a_folder_is_taken_only_when_it_holds_the_programs(tmp_path: Path) -> None:
    assert find_bindir(str(fake_programs(tmp_path / "pg"))) == tmp_path / "pg"
    assert find_bindir(str(tmp_path)) is None
    with pytest.raises(PostgresNotInstalledError, match="pip install pgserver"):
        LocalPostgres(programs=str(tmp_path))


def test_without_system_programs_the_wheel_s_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = find_bindir("wheel")
    if wheel is None:
        pytest.skip("no pgserver wheel for this platform: the system's PostgreSQL is used")
    monkeypatch.setenv("PATH", str(tmp_path))  # no initdb on PATH
    monkeypatch.setattr("glob.glob", lambda pattern: [])  # no Debian folders either
    assert find_bindir("auto") == wheel
    assert wheel.parent.parent.name == "pgserver"


def test_the_wheel_s_programs_run_a_server_the_team_store_uses(tmp_path: Path) -> None:
    if find_bindir("wheel") is None:
        pytest.skip("no pgserver wheel for this platform: the system's PostgreSQL is used")
    import psycopg

    from generect_excel.store.postgres import PostgresStore

    server = LocalPostgres(programs="wheel").start()
    try:
        url = server.create_database("team")
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        assert version is not None and version[0].startswith("16.")
        store = PostgresStore(url, analyst="ada", home=tmp_path / "home")
        try:
            assert store.schema_version > 0  # migrated on open
        finally:
            store.close()
    finally:
        server.stop()
    assert not server.folder.exists()  # the cluster is gone with its data


@pytest.mark.skipif(
    os.name == "nt" or os.geteuid() != 0, reason="only root runs the cluster as another account"
)
def test_programs_the_cluster_s_account_cannot_reach_are_run_from_a_copy(tmp_path: Path) -> None:
    # CI's checkout may sit under a private home (mode 700): the wheel's programs in its venv
    # are then out of reach of the account that runs the server.
    wheel = find_bindir("wheel")
    if wheel is None:
        pytest.skip("no pgserver wheel for this platform")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    package = wheel.parent.parent
    shutil.copytree(package, private / package.name, symlinks=True)
    shutil.copytree(package.parent / f"{package.name}.libs", private / f"{package.name}.libs")
    hidden = private / package.name / wheel.parent.name / wheel.name
    server = LocalPostgres(programs=str(hidden))
    try:
        assert server.bindir != hidden and server.bindir.is_relative_to(server.folder)
        server.start()
        server.create_database("reachable")
    finally:
        server.stop()
