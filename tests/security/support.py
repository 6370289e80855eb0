"""Helpers for the security tests: every webhook URL the app serves, and a snapshot of the
whole database to show that a refused request changed nothing."""
from __future__ import annotations

from sqlalchemy import select

from scheduling.models import Base
from tests.conftest import fresh

# Steps the voice line names in its own URLs, beside VOICE_STEPS.
VOICE_EXTRA_STEPS = ["status", "bridge", "reminder", "after-dial", "recorded"]


def webhook_paths(app) -> list[str]:
    """Every POST route under /hotline/, with each value its URL variables take."""
    from hotline.webhooks import VOICE_STEPS

    samples = {"step": sorted(VOICE_STEPS) + VOICE_EXTRA_STEPS}
    adapter = app.url_map.bind("linja.test")
    paths: set[str] = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/hotline/") or "POST" not in (rule.methods or ()):
            continue
        combos = [{}]
        for name in rule.arguments:
            combos = [{**combo, name: value} for combo in combos for value in samples.get(name, ["x"])]
        for values in combos:
            paths.add(adapter.build(rule.endpoint, values))
    return sorted(paths)


def snapshot(db_session) -> dict[str, list]:
    """Every row of every table, as text."""
    fresh(db_session)
    return {
        table.name: sorted(repr(tuple(row)) for row in db_session.execute(select(table)).all())
        for table in Base.metadata.sorted_tables
    }
