"""An IPv4 client written as IPv6 (::ffff:a.b.c.d, as a dual-stack socket or a proxy may
report her) counts as the IPv4 address it is: her own network, trusted or not."""
from __future__ import annotations

import ipaddress

import pytest

from scheduling.models import StaffRole
from scheduling.brake import FAILURES_PER_EMAIL, FAILURES_PER_NETWORK
from tests.staff.support import PASSWORD, PASSWORD_HASH, csrf_token


@pytest.fixture
def ingrid(make, db_session, app):
    app.config["TRUSTED_NETWORKS"] = (ipaddress.ip_network("192.0.2.0/24"),)
    make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist, password_hash=PASSWORD_HASH)
    make.counselor(name="Ola", email="ola@linja.test", role=StaffRole.receptionist, password_hash=PASSWORD_HASH)
    db_session.commit()


def browser(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_token(client.get("/staff/login").get_data(as_text=True))
    return lambda email, password: client.post("/staff/login", data={
        "email": email, "password": password, "csrf_token": token}).status_code


def test_the_centre_written_as_ipv6_is_not_locked_out_by_an_outsider(app, ingrid):
    outsider = browser(app, "::ffff:203.0.113.9")
    for _ in range(FAILURES_PER_EMAIL):
        outsider("ingrid@linja.test", "guess")
    at_the_centre = browser(app, "::ffff:192.0.2.10")  # 192.0.2.10 is in TRUSTED_NETWORKS
    assert at_the_centre("ingrid@linja.test", PASSWORD) == 302


def test_guesses_from_one_ipv4_client_written_as_ipv6_lock_out_no_other(app, ingrid):
    guesser = browser(app, "::ffff:203.0.113.9")
    for n in range(FAILURES_PER_NETWORK):
        guesser(f"nobody{n}@linja.test", "guess")
    stranger_elsewhere = browser(app, "::ffff:198.51.100.7")  # another person, another ISP
    assert stranger_elsewhere("ola@linja.test", PASSWORD) == 302
