"""``generect-excel sandbox``: starts, prints its URL and a key, serves, stops on Ctrl+C."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from conftest import assert_conforms
from generect_excel import _constants as C
from generect_excel.cli import build_parser, main
from generect_excel.cli.sandbox import config_from_args, serve

URL = re.compile(r"http://127\.0\.0\.1:\d+")


def test_options_map_to_the_config(tmp_path) -> None:
    args = build_parser().parse_args(
        [
            "sandbox",
            "--port",
            "0",
            "--seed",
            "3",
            "--leads",
            "500",
            "--latency",
            "0.5",
            "--realtime-latency",
            "0",
            "--balance",
            "12.5",
            "--max-parallel",
            "4",
            "--clean",
            "--log",
            str(tmp_path / "log.jsonl"),
        ]
    )
    config = config_from_args(args)
    assert (config.port, config.seed, config.leads, config.latency, config.realtime_latency) == (
        0,
        3,
        500,
        0.5,
        0.0,
    )
    assert (str(config.balance), config.max_parallel, config.clean) == ("12.5", 4, True)
    assert config.log_path == tmp_path / "log.jsonl"
    defaults = config_from_args(build_parser().parse_args(["sandbox"]))
    assert (defaults.port, defaults.leads, defaults.realtime_latency, defaults.max_parallel) == (
        8765,
        100_000,
        3.0,
        50,
    )


def test_help_documents_keys_and_faults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    text = capsys.readouterr().out
    for word in (
        "--realtime-latency",
        "--clean",
        "test_",
        "X-Generect-Test-Behaviour",
        "hang",
        "/_sandbox/faults",
        "not Generect's",
    ):
        assert word in text


def test_other_bind_addresses_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--host", "0.0.0.0", "--leads", "10"]) == 1
    assert "only listens on 127.0.0.1" in capsys.readouterr().err


def test_serve_prints_url_and_key_and_stops(tmp_path) -> None:
    args = build_parser().parse_args(
        [
            "sandbox",
            "--port",
            "0",
            "--leads",
            "800",
            "--realtime-latency",
            "0",
            "--log",
            str(tmp_path / "log.jsonl"),
        ]
    )
    out, stop = io.StringIO(), threading.Event()
    codes: list[int] = []
    thread = threading.Thread(
        target=lambda: codes.append(serve(config_from_args(args), out=out, stop=stop))
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not URL.search(out.getvalue()) and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    url = URL.search(out.getvalue()).group(0)  # type: ignore[union-attr]
    assert "GENERECT_API_KEY=test_demo" in out.getvalue()
    response = httpx.get(url + C.PATH_ACCOUNT, headers={"Authorization": "Token test_demo"})
    assert assert_conforms(response)["data"]["credits"]["balance"] == 100
    stop.set()
    thread.join(20)
    assert codes == [0] and out.getvalue().endswith("Sandbox stopped.\n")
    assert '"path": "/api/v1/accounts/me/"' in (tmp_path / "log.jsonl").read_text()


def test_the_command_stops_cleanly_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from generect_excel.cli import main; sys.exit(main())",
            "sandbox",
            "--port",
            "0",
            "--leads",
            "500",
            "--realtime-latency",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        while url is None:
            line = process.stdout.readline()  # type: ignore[union-attr]
            assert line, process.stderr.read()  # type: ignore[union-attr]
            if match := URL.search(line):
                url = match.group(0)
        response = httpx.post(
            url + C.PATH_DATABASE_COUNT,
            json={"seniorities": ["vp"]},
            headers={"Authorization": "Token any-key"},
        )
        assert response.status_code == 200 and assert_conforms(response)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Sandbox stopped." in out and "Traceback" not in err
