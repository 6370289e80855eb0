"""The outbox under bad luck: each text once, nothing lost.

The same runs as the chaos tests (tests/scheduling/test_worker_processes.py, through
tests/scheduling/outbox_chaos.py): `flask worker` processes share 5 texts a second and an
8 s lease against a fake Twilio that answers each text after 1-2 s; each worker is stopped
once with SIGTERM (a deploy) and started again; then one is killed with SIGKILL; then a
Twilio that answers every text with the same sid. On PostgreSQL three workers run; on
SQLite, which has one writer, one. Prints figures; always exits 0.

    python bench/outbox.py [--postgres URL] [--texts 120]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.databases import add_postgres_option, migrate, postgres_database, sqlite_database  # noqa: E402
from scheduling.db import make_engine, make_session_factory  # noqa: E402
from tests.scheduling import outbox_chaos  # noqa: E402

RUNS = [
    ("SIGTERM each worker once", {"stop": "term"}),
    ("SIGKILL one worker", {"stop": "kill"}),
    ("one sid for every text", {"stop": "", "same_sid": "SM" + "e" * 32, "per_second": 0, "delay": (0, 0.05)}),
]


def run_on(label: str, make_database, workers: int, texts: int) -> None:
    print(f"\n{label}: {workers} worker(s), {texts} due texts, 5 texts/s shared, lease 8 s, "
          "HTTP timeout 3 s, Twilio answering after 1-2 s")
    for name, options in RUNS:
        with make_database() as url, tempfile.TemporaryDirectory(prefix="linja_outbox_") as logs:
            migrate(url)
            engine = make_engine(url, serialise_sqlite=False)
            try:
                settings = {"per_second": 5, "lease": 8, "timeout": 3, **options}
                figures = outbox_chaos.run(url, make_session_factory(engine), Path(logs), texts=texts,
                                           workers=workers, **settings)
            except Exception as error:  # a benchmark reports, it does not fail
                print(f"  {name:<26} could not run: {error}")
                continue
            finally:
                engine.dispose()
        verdict = "ok" if figures.finished and figures.duplicates == 0 and figures.lost == 0 else "LOOK"
        print(f"  {name:<26} {verdict:<4} {figures.line()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_postgres_option(parser)
    parser.add_argument("--texts", type=int, default=120)
    args = parser.parse_args()
    run_on("SQLite", sqlite_database, 1, max(20, args.texts // 3))
    if args.postgres:
        run_on("PostgreSQL", lambda: postgres_database(args.postgres, prefix="linja_bench_outbox"), 3, args.texts)
    else:
        print("\nPostgreSQL: skipped (no --postgres URL and no BENCH_DATABASE_URL)")


if __name__ == "__main__":
    main()
