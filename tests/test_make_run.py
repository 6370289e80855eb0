"""`make run` as a newcomer starts it: `flask --app app serve` in its own process, on the
port PORT names, with the JSON request lines and the console texts the README promises."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import next_noon_in_oslo
from web.config import ConfigError, from_env

ROOT = Path(__file__).resolve().parents[1]
CALLER = "+4791234567"
# Settings a developer's shell may hold that would change what is tested here.
LINJA_SETTINGS = ("DATABASE_URL", "LINJA_ENV", "PUBLIC_BASE_URL", "LINJA_HOST", "HOST", "PORT", "LOG_LEVEL",
                  "SIMULATOR_ENABLED", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM",
                  "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_API_BASE", "PROXY_FIX_HOPS", "FLASK_APP",
                  "FLASK_RUN_PORT")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`make run`'s command in a subprocess; its output (stdout and stderr) is collected."""

    def __init__(self, database_url: str, port: int):
        env = {name: value for name, value in os.environ.items() if name not in LINJA_SETTINGS}
        env.update({
            "DATABASE_URL": database_url, "PORT": str(port), "SECRET_KEY": "make-run-test",
            "PHONE_KEYS": Fernet.generate_key().decode(), "PHONE_HASH_KEY": "make-run-test",
            "LINJA_CLOCK": next_noon_in_oslo(), "SMS_PER_SECOND": "0", "WORKER_INTERVAL_SECONDS": "0.5",
            "PYTHONUNBUFFERED": "1",
        })
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "serve"], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, condition, what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                time.sleep(0.2)  # the last lines
                pytest.fail(f"the server stopped (exit {self.process.returncode}) before {what}:\n"
                            f"{self.output}")
            time.sleep(0.1)
        pytest.fail(f"no {what} within {timeout} s:\n{self.output}")

    def json_lines(self) -> list[dict]:
        entries = []
        for line in list(self.lines):
            if line.startswith("{"):
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    pass
        return entries

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Ctrl+C
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=5)


@pytest.fixture
def make_run(database_url, sessions):
    servers = []

    def start(port: int) -> Server:
        server = Server(database_url, port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def request(url: str, data: dict | None = None) -> tuple[int, str]:
    body = json.dumps(data).encode() if data is not None else None
    headers = {"Content-Type": "application/json"} if body else {}
    call = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(call, timeout=30) as response:
        return response.status, response.read().decode()


def test_make_run_serves_on_port_and_logs_each_request_and_the_texts_it_sends(make_run):
    port = free_port()
    server = make_run(port)
    base = f"http://127.0.0.1:{port}"
    server.wait_for(lambda: f"Linja is running on {base}" in server.output, "start-up line naming PORT",
                    timeout=90)
    assert f"Staff sign-in:  {base}/staff/login" in server.output

    assert request(base + "/healthz")[0] == 200
    # A text through the phone simulator goes to the real, signed SMS webhook.
    status, answer = request(base + "/simulator/api/sms", {"from": CALLER, "body": "hi"})
    assert status == 200 and json.loads(answer)["replies"][0].startswith("1 Norsk")

    def logged(method, path):
        return any(e.get("event") == "request" and e.get("method") == method and e.get("path") == path
                   and e.get("status") == 200 for e in server.json_lines())

    server.wait_for(lambda: logged("GET", "/healthz"), "JSON request line for /healthz")
    server.wait_for(lambda: logged("POST", "/hotline/sms"), "JSON request line for the SMS webhook")
    server.wait_for(lambda: logged("POST", "/simulator/api/sms"), "JSON request line for the simulator")
    # Without Twilio, the texts the worker sends (here the demo's confirmations of times the
    # desk booked) are printed to the console.
    server.wait_for(lambda: any(e.get("logger") == "hotline.messaging"
                                and e.get("message", "").startswith("console text ")
                                for e in server.json_lines()), "console text line")
    server.stop()
    # Alembic's announcements of its plugins are not news; nor is a number ever in the log.
    assert "alembic.runtime.plugins" not in server.output
    assert "setup plugin" not in server.output
    assert CALLER not in server.output and CALLER[3:] not in server.output


def test_port_names_where_linja_says_it_is_and_a_wrong_one_is_refused_clearly():
    keys = {"PHONE_KEYS": Fernet.generate_key().decode(), "PHONE_HASH_KEY": "h"}
    assert from_env(keys)["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
    # Calendar links, status callbacks and signatures name the port it serves on...
    assert from_env({**keys, "PORT": "5003"})["PUBLIC_BASE_URL"] == "http://127.0.0.1:5003"
    assert from_env({**keys, "LINJA_HOST": "0.0.0.0", "PORT": "5003"})["PUBLIC_BASE_URL"] == "http://127.0.0.1:5003"
    # ...unless PUBLIC_BASE_URL says otherwise.
    named = from_env({**keys, "PORT": "5003", "PUBLIC_BASE_URL": "https://linja.test/"})
    assert named["PUBLIC_BASE_URL"] == "https://linja.test"
    # A shell's own HOST (zsh and tcsh set it to the machine's name) never moves the server.
    assert from_env({**keys, "HOST": "workstation.local"})["HOST"] == "127.0.0.1"
    for wrong in ("50o3", "0", "70000", "-1", "٥٠٠٣"):
        with pytest.raises(ConfigError, match="PORT must be a port number"):
            from_env({**keys, "PORT": wrong})


def test_a_port_another_program_holds_is_said_before_anything_starts(make_run):
    """Port 5000 is often taken (macOS's AirPlay Receiver holds it): `make run` must not
    announce "Linja is running" (nor start its worker) and then fail; it says how to choose
    another port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = make_run(port)
        server.process.wait(timeout=90)
        server.stop()
    assert server.process.returncode != 0
    assert "Linja is running" not in server.output
    assert "Demo staff created" not in server.output  # nothing was done before it knew
    assert f"Linja cannot listen on 127.0.0.1:{port}" in server.output
    assert "PORT=5003 make run" in server.output
