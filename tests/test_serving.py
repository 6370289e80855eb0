"""The Procfile's `web` process as production starts it: gunicorn with web.serving's hooks."""
from __future__ import annotations

import gc
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet

from tests.test_make_run import LINJA_SETTINGS, free_port
from web import serving
from web.cli import upgrade_database

ROOT = Path(__file__).resolve().parents[1]


def procfile_web_command(port: int) -> list[str]:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = line.removeprefix("web:").strip()
    command = command.replace("${PORT:-8000}", str(port)).replace("${WEB_CONCURRENCY:-2}", "1")
    command = command.replace("${WEB_THREADS:-4}", "2")
    assert "$" not in command, f"the test does not know how to fill in: {command}"
    return shlex.split(command)


def test_the_procfiles_web_process_starts_and_answers(tmp_path):
    port = free_port()
    url = f"sqlite:///{tmp_path / 'linja.sqlite3'}"
    env = {name: value for name, value in os.environ.items() if name not in LINJA_SETTINGS}
    env.update({"DATABASE_URL": url, "SECRET_KEY": "procfile-test", "PHONE_KEYS": Fernet.generate_key().decode(),
                "PHONE_HASH_KEY": "procfile-test", "LINJA_ENV": "development",
                "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"})
    upgrade_database(url)
    process = subprocess.Popen(procfile_web_command(port), cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, answer = time.monotonic() + 30, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    answer = response.status
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        assert answer == 200, process.stdout.read() if process.poll() is not None else "no answer in 30 s"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_worker_that_has_loaded_the_app_keeps_it_out_of_full_collections():
    before = gc.get_freeze_count()
    try:
        serving.post_worker_init(worker=None)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
