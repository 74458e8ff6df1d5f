"""A throw-away PostgreSQL cluster for the tests, the benchmarks and a try-out on one machine.

The team store (:mod:`generect_excel.store.postgres`) needs a real server. Nothing here assumes
one is running: :class:`LocalPostgres` runs PostgreSQL's ``initdb`` and ``pg_ctl`` into a fresh
folder, listens on 127.0.0.1 at a free port and on a Unix socket inside that folder, trusts
local connections, and removes everything on :meth:`LocalPostgres.stop`.

Where the programs come from (:func:`find_bindir`): the system's when present (``pg_ctl`` on
``PATH``, else Debian's ``/usr/lib/postgresql/*/bin``), otherwise those shipped in the
``pgserver`` wheel (PostgreSQL 16, installed by the ``test`` extra on Linux x86_64, macOS and
Windows), so ``pip install -e '.[test]'`` alone is enough for the tests.

``initdb`` refuses to run as root, so under root (CI, containers) the cluster runs as an
unprivileged account: ``postgres`` when the distribution's package created it, else
``generect-pg``, created on first use.

Example::

    with LocalPostgres() as server:
        url = server.create_database("team")  # postgresql://postgres@127.0.0.1:PORT/team
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

__all__ = ["LocalPostgres", "PostgresNotInstalledError", "find_bindir"]

# The server's own settings: a throw-away cluster trades durability for speed (never do this
# with the team's real server).
_SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c listen_addresses=127.0.0.1"
)


class PostgresNotInstalledError(RuntimeError):
    """No ``initdb``/``pg_ctl`` on this machine: install PostgreSQL (``.ci/run`` does)."""


# Where find_bindir looks: "system" (PATH, then Debian's folders), "wheel" (the pgserver
# wheel's), "auto" (system, then wheel), or a folder holding initdb and pg_ctl.
PROGRAM_SOURCES = ("auto", "system", "wheel")

# The unprivileged account a root process runs the cluster as, when the distribution's
# ``postgres`` account does not exist (PostgreSQL from the wheel on a bare machine).
_FALLBACK_ACCOUNT = "generect-pg"


def _system_bindir() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(candidates[-1]).parent if candidates else None


def _wheel_bindir() -> Path | None:
    # Located, not imported: importing pgserver registers exit hooks we do not want.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        bindir = Path(location) / "pginstall" / "bin"
        if (bindir / "initdb").exists() or (bindir / "initdb.exe").exists():
            return bindir
    return None


def find_bindir(source: str = "auto") -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when ``source`` has none.

    ``source`` is one of :data:`PROGRAM_SOURCES` or a folder: "system" is ``PATH``, else the
    newest Debian ``/usr/lib/postgresql/*/bin``; "wheel" is the ``pgserver`` wheel's; "auto"
    (the default) the system's, else the wheel's.
    """
    if source == "system":
        return _system_bindir()
    if source == "wheel":
        return _wheel_bindir()
    if source == "auto":
        return _system_bindir() or _wheel_bindir()
    folder = Path(source)
    return folder if (folder / "initdb").exists() or (folder / "initdb.exe").exists() else None


def _unprivileged_account() -> pwd.struct_passwd:
    """The account a root process runs the cluster as (initdb refuses root)."""
    for name in ("postgres", _FALLBACK_ACCOUNT):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            _FALLBACK_ACCOUNT,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return pwd.getpwnam(_FALLBACK_ACCOUNT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPostgres:
    """One throw-away cluster: :meth:`start` it, :meth:`create_database` per test, :meth:`stop`."""

    def __init__(self, *, user: str = "postgres", programs: str = "auto") -> None:
        bindir = find_bindir(programs)
        if bindir is None:
            raise PostgresNotInstalledError(
                f"No PostgreSQL programs ({programs!r}): run `pip install pgserver` (its wheel "
                "ships them) or `apt-get install postgresql`."
            )
        self.bindir = bindir
        self.user = user  # the database superuser's name
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="generect-pg-"))
        self.data = self.folder / "data"
        self._run_as: list[str] = []
        if os.name != "nt" and os.geteuid() == 0:
            account = _unprivileged_account()
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self._run_as = ["runuser", "-u", account.pw_name, "--"]
            self.bindir = self._reachable(bindir)
        self._databases = 0

    def _reachable(self, bindir: Path) -> Path:
        """``bindir``, or a copy of its installation the unprivileged account can run: a
        virtual environment under a private home (``/root``, mode 700) holds the wheel's
        programs where that account cannot reach them (``initdb`` exits 126)."""
        check = subprocess.run(
            [*self._run_as, "test", "-x", str(bindir / "initdb")], capture_output=True, timeout=60
        )
        if check.returncode == 0:
            return bindir
        # The wheel's layout, kept: its programs find their libraries by a relative path
        # ($ORIGIN/../../../pgserver.libs, beside the package).
        install = bindir.parent
        root = self.folder / "programs"
        copy = root / install.parent.name / install.name
        shutil.copytree(install, copy, symlinks=True)
        libs = install.parent.parent / f"{install.parent.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, root / libs.name, symlinks=True)
        for path in (root, *root.rglob("*")):
            if not path.is_symlink():  # readable by all; folders and programs enterable too
                mode = path.stat().st_mode
                os.chmod(path, mode | (0o555 if path.is_dir() else 0o444))
        return copy / bindir.name

    def _pg(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self._run_as, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> LocalPostgres:
        """Create the cluster and start its server (a few seconds)."""
        self._pg("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8")
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-o",
            f"{_SERVER_OPTIONS} -p {self.port} -k {self.folder}",
            "start",
        )
        return self

    def url(self, database: str = "postgres") -> str:
        """The connection URL of ``database`` (TCP on 127.0.0.1, no password: trusted)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        self._databases += 1
        name = name or f"test_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once and delete the cluster."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
