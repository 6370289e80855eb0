"""Guessing is slowed, the real person is not locked out: failed sign-ins are counted by
the database (parallel tries cannot all pass the limit), the answer past it is 429 with a
Retry-After that grows, and the centre's own networks are counted apart from elsewhere."""
from __future__ import annotations

import ipaddress
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scheduling.models import LoginAttempt, StaffRole
from scheduling.brake import FAILURES_PER_EMAIL, FAILURES_PER_NETWORK, FIRST_WAIT, LONGEST_WAIT
from tests.conftest import fresh
from tests.staff.support import PASSWORD, PASSWORD_HASH, csrf_token

CENTRE, OUTSIDE, ELSEWHERE = "192.0.2.10", "203.0.113.9", "198.51.100.7"


@pytest.fixture
def ingrid(make, db_session, app):
    app.config["TRUSTED_NETWORKS"] = (ipaddress.ip_network("192.0.2.0/24"),)
    ingrid = make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist,
                            password_hash=PASSWORD_HASH)
    db_session.commit()
    return ingrid


class Browser:
    """One browser at one network address, with the sign-in page already open."""

    def __init__(self, app, address: str):
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = address
        self.token = csrf_token(self.client.get("/staff/login").get_data(as_text=True))

    def sign_in(self, email="ingrid@linja.test", password=PASSWORD):
        return self.client.post("/staff/login", data={
            "email": email, "password": password, "csrf_token": self.token})


def checked_passwords(db_session) -> int:
    """Wrong passwords that reached the password check (each is recorded)."""
    return fresh(db_session).scalar(select(func.count()).select_from(LoginAttempt))


def test_thirty_wrong_passwords_at_once_check_no_more_than_the_limit(app, ingrid, db_session):
    browsers = [Browser(app, OUTSIDE) for _ in range(30)]
    start = threading.Barrier(len(browsers))
    answers, errors = [], []

    def guess(browser):
        try:
            start.wait()
            answers.append(browser.sign_in(password="guess").status_code)
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    threads = [threading.Thread(target=guess, args=(browser,)) for browser in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert checked_passwords(db_session) <= FAILURES_PER_EMAIL
    assert answers.count(200) == checked_passwords(db_session)
    assert answers.count(429) == len(browsers) - answers.count(200)


def test_past_the_limit_she_gets_429_and_a_retry_after_that_grows(app, ingrid, clock, db_session):
    browser = Browser(app, OUTSIDE)
    for _ in range(FAILURES_PER_EMAIL):
        assert browser.sign_in(password="guess").status_code == 200

    waits = []
    for _ in range(4):
        refused = browser.sign_in()  # even the right password waits
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(timedelta(seconds=waits[-1]))
        assert browser.sign_in(password="guess").status_code == 200  # one more try, checked
    assert waits == [FIRST_WAIT.total_seconds() * 2 ** n for n in range(4)]
    assert checked_passwords(db_session) == FAILURES_PER_EMAIL + 4

    for _ in range(3):
        refused = browser.sign_in(password="guess")
        clock.advance(timedelta(seconds=int(refused.headers["Retry-After"])))
        browser.sign_in(password="guess")
    assert int(browser.sign_in().headers["Retry-After"]) == LONGEST_WAIT.total_seconds()


def test_the_page_past_the_limit_says_kindly_when_to_try_again(app, ingrid, db_session):
    browser = Browser(app, OUTSIDE)
    for _ in range(FAILURES_PER_EMAIL):
        browser.sign_in(password="guess")
    page = browser.sign_in().get_data(as_text=True)
    # Linja's clock stands at 08:00 in Oslo.
    assert "For mange forsøk. Du kan prøve igjen kl. 08:15, om 15 minutter." in page
    assert "Har du glemt passordet, kan en administrator gi deg et nytt." in page


def test_the_right_password_at_the_centre_works_while_an_outsider_is_locked(app, ingrid):
    outsider = Browser(app, OUTSIDE)
    for _ in range(FAILURES_PER_EMAIL + 10):
        outsider.sign_in(password="guess")
    assert outsider.sign_in().status_code == 429

    at_the_centre = Browser(app, CENTRE)
    assert at_the_centre.sign_in().status_code == 302
    assert at_the_centre.client.get("/staff/settings").status_code == 200
    assert outsider.sign_in().status_code == 429  # her signing in does not free the outsider


def test_guesses_at_the_centre_are_limited_too(app, ingrid):
    colleague = Browser(app, CENTRE)
    for _ in range(FAILURES_PER_EMAIL):
        colleague.sign_in(password="guess")
    assert colleague.sign_in().status_code == 429
    assert Browser(app, OUTSIDE).sign_in().status_code == 302


def test_one_network_guessing_many_addresses_waits_and_others_do_not(app, ingrid):
    guesser = Browser(app, OUTSIDE)
    for n in range(FAILURES_PER_NETWORK):
        assert guesser.sign_in(f"someone{n}@linja.test", "guess").status_code == 200
    assert guesser.sign_in().status_code == 429
    assert Browser(app, ELSEWHERE).sign_in().status_code == 302


def test_a_right_password_forgets_her_failures(app, ingrid, db_session):
    browser = Browser(app, OUTSIDE)
    for _ in range(FAILURES_PER_EMAIL - 1):
        browser.sign_in(password="guess")
    assert browser.sign_in().status_code == 302
    other = Browser(app, OUTSIDE)
    for _ in range(FAILURES_PER_EMAIL - 1):
        assert other.sign_in(password="guess").status_code == 200
    assert other.sign_in().status_code == 302


def test_trusted_networks_are_read_from_the_environment():
    from cryptography.fernet import Fernet

    from web import config as web_config

    base = {"SECRET_KEY": "s", "PHONE_KEYS": Fernet.generate_key().decode(), "PHONE_HASH_KEY": "h"}
    assert web_config.from_env(base)["TRUSTED_NETWORKS"] == ()
    networks = web_config.from_env({**base, "TRUSTED_NETWORKS": "192.0.2.0/24, 2001:db8:1::/48"})["TRUSTED_NETWORKS"]
    assert networks == (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8:1::/48"))
    with pytest.raises(web_config.ConfigError, match="TRUSTED_NETWORKS"):
        web_config.from_env({**base, "TRUSTED_NETWORKS": "the centre"})
