"""Alembic environment: migrates the database named by DATABASE_URL (or the caller's URL)."""
from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context

from web.config import default_database_url
from scheduling.db import make_engine
from scheduling.models import Base

config = context.config
# alembic.ini's logging applies only when alembic runs as its own command (`alembic upgrade
# head`, the Procfile's release step). Run from inside Linja (`make run`, `flask db-upgrade`,
# the tests) the migrations leave the process's logging as it is: fileConfig would turn the
# root logger to WARNING and silence the JSON request lines and the console texts.
if config.config_file_name is not None and config.cmd_opts is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    return (
        config.attributes.get("database_url")
        or os.environ.get("DATABASE_URL")
        or default_database_url()
    )


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(), target_metadata=target_metadata, literal_binds=True,
        render_as_batch=database_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(database_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
