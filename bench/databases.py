"""Throwaway databases for the benchmarks: a temporary SQLite file, or a PostgreSQL
database created on the given server and dropped afterwards; both migrated with Alembic."""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from web.cli import upgrade_database


@contextlib.contextmanager
def sqlite_database(prefix: str = "linja_bench_"):
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield f"sqlite:///{tmp / 'bench.sqlite3'}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def postgres_database(admin_url: str, prefix: str = "linja_bench"):
    name = f"{prefix}_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def migrate(url: str) -> None:
    # Keep anything the migration prints out of the tables unless it fails.
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            upgrade_database(url)
    except BaseException:
        sys.stderr.write(buffer.getvalue())
        raise


def analyze(engine, statement: str = "ANALYZE") -> None:
    """Fresh planner statistics after a bulk load, as autovacuum would give them later."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(statement)
    else:
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()


def add_postgres_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="also run on PostgreSQL; a throwaway database is created on this "
                             "server and dropped afterwards (default: $BENCH_DATABASE_URL)")
