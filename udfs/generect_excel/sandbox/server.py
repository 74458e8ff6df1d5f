"""Running the sandbox: a uvicorn server in a daemon thread, started and stopped in-process.

Example::

    from generect_excel.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(leads=20_000, realtime_latency=0)) as sb:
        print(sb.url)  # http://127.0.0.1:PORT, use it as GENERECT_BASE_URL
        ...            # any key works; "test_..." keys are test mode
        print(len(sb.billable_calls()), "billable calls")
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

import uvicorn

from ..errors import SettingsError
from ..settings import key_fingerprint
from .accounts import Accounts, Transaction
from .app import DropConnection, ResponseObserver, SandboxApp
from .config import LOOPBACK, SandboxConfig
from .faults import Fault, FaultQueue
from .population import Population, build_population
from .requestlog import RequestLog

__all__ = ["Sandbox"]

_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 10.0


class _QuietDrops(logging.Filter):
    """Keep the ``drop``/``hang`` faults' deliberate aborts out of uvicorn's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BaseExceptionGroup):
            return not exc.subgroup(DropConnection)
        return not isinstance(exc, DropConnection)


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


class Sandbox:
    """An offline imitation of the Generect API on 127.0.0.1 (a context manager).

    ``population`` shares an already built population (tests build one per session); by
    default it is built from ``config`` (and cached per process by seed, size and clean).
    ``observer`` (off by default) is called for every response sent, as
    ``observer(method, path, status, headers, body, fault=...)`` (see
    :mod:`generect_excel.sandbox.app`); the test suite validates answers with it.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        population: Population | None = None,
        observer: ResponseObserver | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        if population is not None and (
            population.seed != self.config.seed
            or population.size != self.config.leads
            or population.clean != self.config.clean
        ):
            raise SettingsError(
                "The population given does not match the config's seed, leads and clean."
            )
        self._population = population
        self.observer = observer
        self.log = RequestLog(self.config.log_path)
        self.accounts = Accounts(self.config.balance, self.config.monthly_limit)
        self.faults = FaultQueue()
        self._app: SandboxApp | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    # ----------------------------------------------------------------- lifecycle
    @property
    def population(self) -> Population:
        if self._population is None:
            c = self.config
            self._population = build_population(c.seed, c.leads, c.clean)
        return self._population

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (only while running)."""
        if self.port is None:
            raise RuntimeError("the sandbox is not running; call start() or use it in a with block")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def asgi(self) -> Any:
        """The ASGI application (while running), for in-process tests with httpx.ASGITransport."""
        if self._app is None:
            raise RuntimeError("the sandbox is not running")
        return self._app.asgi

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Sandbox:
        """Build the population (if needed), bind 127.0.0.1 and serve in a daemon thread."""
        if self.running:
            return self
        population = self.population
        self._app = SandboxApp(
            self.config,
            population,
            log=self.log,
            accounts=self.accounts,
            faults=self.faults,
            observer=self.observer,
        )
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP, and without it small answers wait ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.bind((LOOPBACK, self.config.port))
        except OSError as exc:
            sock.close()
            raise SettingsError(
                f"The sandbox cannot listen on {LOOPBACK}:{self.config.port} ({exc.strerror}). "
                "Pick another --port, or 0 for any free port."
            ) from exc
        sock.listen(128)
        sock.setblocking(False)
        self._socket = sock
        self.port = sock.getsockname()[1]
        _install_log_filter()
        server_config = uvicorn.Config(
            self._app.asgi,
            log_config=None,  # leave the host program's logging alone
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            loop="asyncio",
            server_header=False,
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(server_config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"generect-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving: hangs and delays end at once, then the server shuts down."""
        if self._app is not None:
            self._app.closing = True
            self._app.release_hangs()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT)
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
        self._thread = self._server = self._socket = None
        self.port = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- test helpers
    def log_entries(self) -> list[dict[str, Any]]:
        """Every API call since the last :meth:`reset` (see :mod:`.requestlog` for fields)."""
        return self.log.entries()

    def billable_calls(self) -> list[dict[str, Any]]:
        """The calls Generect would bill: 200 answers of lead searches and realtime counts."""
        return self.log.billable()

    def queue_faults(self, faults: list[str | Fault], *, path: str | None = None) -> int:
        """Queue faults for the next requests (one each, in order; only ``path`` when given).

        Example: ``sb.queue_faults(["rate_limited", "rate_limited"])`` makes the next two calls
        answer 429, the third normally. Returns how many faults are pending.
        """
        return self.faults.push(faults, path=path)

    def clear_faults(self) -> None:
        self.faults.clear()

    def pending_faults(self) -> list[dict[str, str | None]]:
        return self.faults.pending()

    def release_hangs(self) -> None:
        """End every ``hang`` fault in progress (their connections are closed)."""
        if self._app is not None:
            self._app.release_hangs()

    def in_flight(self, key: str) -> int:
        """How many lead calls of ``key`` are being answered right now."""
        if self._app is None:
            return 0
        return self._app.in_flight.get(key_fingerprint(key), 0)

    def balance(self, key: str) -> Decimal:
        """The balance of ``key``'s account (the opening balance for a key never seen)."""
        return self.accounts.snapshot(key_fingerprint(key)).balance

    def set_balance(self, key: str, amount: Decimal | int | str) -> None:
        self.accounts.set_balance(key_fingerprint(key), Decimal(str(amount)))

    def transactions(self, key: str) -> list[Transaction]:
        """``key``'s billing history, newest first (what ``accounts/transactions`` serves)."""
        return self.accounts.transactions(key_fingerprint(key))

    def add_transaction(
        self,
        key: str,
        credits: Decimal | int | str,
        *,
        operation: str | None = None,
        status: str = "success",
        time: datetime | None = None,
    ) -> Transaction:
        """Put a record in ``key``'s billing history as if made elsewhere (a charge by another
        program on the same key, a top-up, a ``pending`` or ``error`` record)."""
        return self.accounts.record(
            key_fingerprint(key),
            Decimal(str(credits)),
            operation=operation,
            status=status,
            time=time,
        )

    def reset(self) -> None:
        """Clear the in-memory log and the fault queue, restore every balance, end hangs."""
        if self._app is not None:
            self._app.reset()
        else:
            self.log.clear()
            self.accounts.reset()
            self.faults.clear()
