"""Benchmark: the least work any SMS webhook must do beyond a bare endpoint.

Twilio retries a webhook it got no answer to, so the line must check the request's
signature and record its MessageSid before it answers (DESIGN: idempotent webhooks).
This measures exactly that, and nothing of Linja's own: `RequestValidator.validate` on a
real form, then one INSERT into `inbound_messages` and a COMMIT on PostgreSQL, through
SQLAlchemy Core on one kept connection. It prints the CPU per request in this process and
in the database server, and from them the best ratio any webhook that keeps that
contract can reach, given the bare endpoint's CPU per request under gunicorn (measured by
bench/webhooks.py; --bare-ms): to the bare endpoint, and to the signed endpoint (the bare
one plus the signature check, timed alone here), which is issue 20's yardstick.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bench.databases import migrate, postgres_database  # noqa: E402
from scheduling.models import InboundMessage  # noqa: E402

URL = "https://linja.example/hotline/sms"


def postgres_cpu_seconds() -> float:
    """User+sys CPU of every PostgreSQL process on this machine, from /proc."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as comm, open(f"/proc/{pid}/stat") as stat:
                name, fields = comm.read().strip(), stat.read().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if name.startswith("postgres"):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def measure(url: str, requests: int) -> tuple[float, float, float, float]:
    engine = create_engine(url)
    validator = RequestValidator("bench-token")
    form = {"MessageSid": "SM" + "0" * 32, "AccountSid": "AC" + "0" * 32, "From": "+4790000000",
            "To": "+4759440000", "Body": "1", "NumMedia": "0"}
    signature = validator.compute_signature(URL, form)
    statement = insert(InboundMessage.__table__)
    with engine.connect() as connection:
        def one() -> None:
            assert validator.validate(URL, form, signature)
            connection.execute(statement, {"message_sid": uuid.uuid4().hex, "client_id": None,
                                           "received_at": datetime.now(timezone.utc), "reply_twiml": "<Response/>"})
            connection.commit()

        for _ in range(200):
            one()
        database, cpu, wall = postgres_cpu_seconds(), time.process_time(), time.perf_counter()
        for _ in range(requests):
            one()
        database = postgres_cpu_seconds() - database
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    engine.dispose()
    # The signature check alone: what the signed endpoint adds to the bare one.
    check = time.process_time()
    for _ in range(requests):
        validator.validate(URL, form, signature)
    check = time.process_time() - check
    return cpu / requests * 1000, database / requests * 1000, wall / requests * 1000, check / requests * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("BENCH_DATABASE_URL")
                        or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--bare-ms", type=float, default=0.24,
                        help="the bare endpoint's CPU per request under gunicorn (bench/webhooks.py prints it)")
    args = parser.parse_args()
    try:
        with postgres_database(args.postgres, prefix="linja_bench_floor") as url:
            migrate(url)
            here, database, wall, check = measure(url, args.requests)
    except Exception as error:  # no server: say so, as the other benchmarks do
        print(f"webhook floor: PostgreSQL not reachable ({error.__class__.__name__}); skipped")
        return
    floor = here + database
    bound = args.bare_ms / (args.bare_ms + floor)
    signed = args.bare_ms + check
    signed_bound = signed / (args.bare_ms + floor)
    print("the least any SMS webhook must add to a bare endpoint: check the signature, record the MessageSid")
    print(f"  {args.requests} requests on PostgreSQL: {here:.3f} ms CPU here + {database:.3f} ms CPU in the "
          f"database server = {floor:.3f} ms a request ({wall:.3f} ms wall)")
    print(f"  with the bare endpoint at {args.bare_ms:.2f} ms CPU a request, no such webhook can pass "
          f"{bound:.2f}x its requests/s on the same CPUs (no target)")
    print(f"  the signed endpoint (bare + the signature check, {check:.3f} ms here) at about {signed:.2f} ms: no such "
          f"webhook can pass {signed_bound:.2f}x its requests/s (the target for Linja is >= 0.20x)")


if __name__ == "__main__":
    main()
