"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser)."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
MISSING = f"browser: {CHROMIUM} is missing"  # tests/conftest.py's summary says how to install it
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        reason = MISSING
        if os.environ.get("LINJA_REQUIRE_BROWSER"):
            pytest.fail(reason + ", but LINJA_REQUIRE_BROWSER=1 requires the browser tests")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield _CspBypassing(browser)
        browser.close()


class _CspBypassing:
    """Pages ignore Linja's Content-Security-Policy unless a test asks for it
    (``bypass_csp=False``, as tests/browser/test_csp.py does): Playwright's
    ``wait_for_function`` polls with ``eval``, which the policy rightly forbids."""

    def __init__(self, browser):
        self._browser = browser

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def new_page(self, **kwargs):
        return self._browser.new_page(**{"bypass_csp": True, **kwargs})

    def new_context(self, **kwargs):
        return self._browser.new_context(**{"bypass_csp": True, **kwargs})


@pytest.fixture
def live_server():
    """Serve a Flask app on 127.0.0.1 in a thread: ``live_server(app) -> base URL``."""
    servers = []

    def serve(app) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()


@pytest.fixture
def screenshot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
