"""`make test` on a newcomer's machine: the PostgreSQL tests run when the local server
answers (or the one TEST_DATABASE_URL names), are skipped with the reason in one line when
it does not, and the run ends with a short summary of what was skipped and how to enable it.

Each test runs pytest itself, in its own process, on a small test file using this suite's
fixtures (tests/conftest.py as a plugin)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser.conftest import MISSING as BROWSER_MISSING
from tests.conftest import LOCAL_POSTGRES, probe_postgres

ROOT = Path(__file__).resolve().parents[1]
INNER = """
import pytest


def test_on_each_database(database_url):
    assert database_url.split(":")[0] in ("sqlite", "postgresql+psycopg")


def test_in_the_browser():
    pytest.skip({browser_missing!r})
"""


def run_pytest(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    (tmp_path / "test_inner.py").write_text(INNER.format(browser_missing=BROWSER_MISSING))
    environ = {name: value for name, value in os.environ.items()
               if name not in ("TEST_DATABASE_URL", "LINJA_REQUIRE_POSTGRES", "PYTEST_ADDOPTS")}
    environ.update(env)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), str(tmp_path / "test_inner.py")],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)
    return done, time.monotonic() - started


def unanswered_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"  # nothing listens there


def test_without_test_database_url_the_local_server_runs_the_postgresql_tests(tmp_path):
    url, why_not = probe_postgres(LOCAL_POSTGRES)
    if url is None:  # this machine has none: the check is PostgreSQL's, like the others
        if os.environ.get("LINJA_REQUIRE_POSTGRES"):
            pytest.fail(why_not + ", but LINJA_REQUIRE_POSTGRES=1 requires them")
        pytest.skip(why_not)
    done, _ = run_pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"PostgreSQL: {LOCAL_POSTGRES}: the database tests run on it too" in done.stdout
    assert "2 passed, 1 skipped" in done.stdout


def test_a_server_that_does_not_answer_is_named_once_and_its_tests_skipped_with_how_to_run_them(tmp_path):
    url = unanswered_url()
    done, seconds = run_pytest(tmp_path, TEST_DATABASE_URL=url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 2 skipped" in done.stdout
    reason = f"PostgreSQL: cannot connect to {url} (connection to server at \"127.0.0.1\", port"
    header = [line for line in done.stdout.splitlines() if line.startswith("PostgreSQL:")]
    assert len(header) == 1 and header[0].startswith(reason) and "Connection refused" in header[0]
    assert header[0].endswith(": its tests are skipped")
    # The summary at the end: each reason once, with its count and how to enable it...
    summary = done.stdout.split(" skipped ", 1)[1].splitlines()
    assert any(line.startswith(f"1 {reason}") for line in summary), done.stdout
    assert "  to run them: start the server TEST_DATABASE_URL names, or unset it to use a local one" \
        in done.stdout
    assert f"1 {BROWSER_MISSING}" in summary
    assert "  to run them: apt-get install chromium fonts-sil-abyssinica fonts-sil-scheherazade" \
        in done.stdout
    # ...in place of a line per skipped test.
    assert "SKIPPED [" not in done.stdout
    assert seconds < 60


def test_linja_require_postgres_turns_the_skip_into_a_failure_pytest_reports(tmp_path):
    done, _ = run_pytest(tmp_path, TEST_DATABASE_URL=unanswered_url(), LINJA_REQUIRE_POSTGRES="1")
    assert done.returncode != 0
    assert "ERROR" in done.stdout and "test_on_each_database[postgresql]" in done.stdout
    assert "but LINJA_REQUIRE_POSTGRES=1 requires them" in done.stdout
    header = [line for line in done.stdout.splitlines() if line.startswith("PostgreSQL:")]
    assert len(header) == 1 and header[0].endswith(": its tests fail (LINJA_REQUIRE_POSTGRES=1)")


@pytest.mark.parametrize("url", ["127.0.0.1:5432/test", "postgres:secret@127.0.0.1:5432/test"])
def test_a_test_database_url_that_is_no_url_is_said_in_one_line_and_the_run_goes_on(tmp_path, url):
    done, _ = run_pytest(tmp_path, TEST_DATABASE_URL=url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "INTERNALERROR" not in done.stdout + done.stderr
    assert "1 passed, 2 skipped" in done.stdout
    header = [line for line in done.stdout.splitlines() if line.startswith("PostgreSQL:")]
    assert header == ["PostgreSQL: TEST_DATABASE_URL is not a database URL (such as "
                      f"{LOCAL_POSTGRES}): its tests are skipped"]
    assert "secret" not in done.stdout + done.stderr  # what it holds may be a password


def test_a_server_that_answers_without_the_database_says_so_and_how_to_create_it(tmp_path):
    url, why_not = probe_postgres(LOCAL_POSTGRES)
    if url is None:
        pytest.skip(why_not)
    missing = LOCAL_POSTGRES.rsplit("/", 1)[0] + "/linja_no_such_database"
    done, _ = run_pytest(tmp_path, TEST_DATABASE_URL=missing)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 2 skipped" in done.stdout
    assert 'database "linja_no_such_database" does not exist' in done.stdout
    assert "to run them: create the database TEST_DATABASE_URL names" in done.stdout
