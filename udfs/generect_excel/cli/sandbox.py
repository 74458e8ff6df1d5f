"""``generect-excel sandbox``: serve the offline imitation of the Generect API on 127.0.0.1.

Example::

    generect-excel sandbox --port 8765 --realtime-latency 1
    # then, in another terminal:
    GENERECT_BASE_URL=http://127.0.0.1:8765 GENERECT_API_KEY=test_demo generect-excel count c.toml
"""

from __future__ import annotations

import argparse
import sys
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

__all__ = ["DEFAULT_PORT", "config_from_args", "register", "serve"]

DEFAULT_PORT = 8765  # fixed, so GENERECT_BASE_URL can be set once; 0 picks a free port
EXAMPLE_KEY = "test_demo"

_EPILOG = """\
keys:    any key works (send it as "Authorization: Token <key>"); keys starting test_ are
         test mode (prices reported, balance never debited); keys starting invalid get 401;
         test_fault-<fault> keys always get that fault (e.g. test_fault-rate_limited).
faults:  header X-Generect-Test-Behaviour (test_ keys): not_found, insufficient_funds,
         rate_limited, upstream_error, slow, latency=<s>, malformed_json, html_error, drop, hang,
         charged_drop (charged, then the answer is cut);
         or queue them: curl -X POST http://127.0.0.1:8765/_sandbox/faults \\
                             -d '{"faults": ["rate_limited", "upstream_error"]}'
the data is invented: it is not Generect's, and no call leaves this machine.

example: generect-excel sandbox --port 8765 --realtime-latency 1 --log sandbox.jsonl
"""


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sandbox`` command."""
    parser = subparsers.add_parser(
        "sandbox",
        help="serve an offline imitation of the Generect API on 127.0.0.1 (no key, no money)",
        description=(
            "Serve a local, offline imitation of the Generect API (lead search and count in "
            "both modes, the account endpoint) over a synthetic population of invented leads. "
            "Point GENERECT_BASE_URL at the printed URL. Stop with Ctrl+C. "
            "Example: generect-excel sandbox --port 8765 --realtime-latency 1"
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="bind address; only 127.0.0.1 is allowed"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 = any free port)",
    )
    parser.add_argument("--seed", type=int, default=1, help="population seed (default 1)")
    parser.add_argument(
        "--leads", type=int, default=100_000, help="population size (default 100000)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="S", help="delay every call by S seconds"
    )
    parser.add_argument(
        "--realtime-latency",
        type=float,
        default=3.0,
        metavar="S",
        help="delay realtime search and count by S seconds (default 3)",
    )
    parser.add_argument(
        "--balance",
        type=_amount,
        default=Decimal("100"),
        metavar="USD",
        help="opening balance of every key (default 100)",
    )
    parser.add_argument(
        "--max-parallel",
        type=int,
        default=50,
        metavar="N",
        help="lead calls in flight per key before 429 (default 50, as Generect)",
    )
    parser.add_argument(
        "--clean", action="store_true", help="no hostile or awkward text in the rows"
    )
    parser.add_argument(
        "--log", type=Path, default=None, metavar="FILE", help="append a JSON-lines request log"
    )
    parser.set_defaults(handler=_run)


def config_from_args(args: argparse.Namespace):  # -> SandboxConfig (imported lazily)
    """The :class:`SandboxConfig` the parsed arguments describe (raises SettingsError)."""
    from ..sandbox import SandboxConfig

    return SandboxConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        leads=args.leads,
        clean=args.clean,
        latency=args.latency,
        realtime_latency=args.realtime_latency,
        balance=args.balance,
        max_parallel=args.max_parallel,
        log_path=args.log,
    )


def serve(config, *, out: TextIO | None = None, stop: threading.Event | None = None) -> int:
    """Run a sandbox until Ctrl+C (or until ``stop`` is set); print its URL and how to use it."""
    from ..sandbox import Sandbox

    out = out or sys.stdout
    stop = stop or threading.Event()
    sandbox = Sandbox(config)
    print(
        f"Building {config.leads:,} synthetic leads (seed {config.seed})...", file=out, flush=True
    )
    sandbox.start()
    try:
        url = sandbox.url
        print(
            f"Generect sandbox listening on {url}\n"
            f"  base URL:     GENERECT_BASE_URL={url}\n"
            f"  example key:  GENERECT_API_KEY={EXAMPLE_KEY}  (test mode: never debited;\n"
            f"                any other key starts with ${config.balance} and is debited)\n"
            f"  realtime latency {config.realtime_latency:g} s, parallel cap {config.max_parallel}"
            + (f", log {config.log_path}" if config.log_path else "")
            + "\n  Invented data, not Generect's; nothing leaves this machine.\n"
            "Press Ctrl+C to stop.",
            file=out,
            flush=True,
        )
        # Wait in short steps: a bare wait() would not see Ctrl+C on Windows.
        while not stop.wait(0.25):
            if not sandbox.running:
                print("The sandbox server stopped unexpectedly.", file=out, flush=True)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    print("Sandbox stopped.", file=out, flush=True)
    return 0


def _run(args: argparse.Namespace) -> int:
    return serve(config_from_args(args))


def main(argv: list[str] | None = None) -> int:
    """``python -m generect_excel.cli.sandbox``: the command without the rest of the CLI."""
    from ..errors import GenerectError

    parser = argparse.ArgumentParser(prog="generect-excel")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sandbox", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.handler(args))
    except GenerectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
