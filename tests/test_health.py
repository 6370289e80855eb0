from __future__ import annotations


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_healthz_reports_an_unreachable_database(tmp_path):
    from app import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3", "SECRET_KEY": "x"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503


def test_readyz_wants_the_newest_schema_and_a_live_worker(client, app, sessions, clock):
    from datetime import timedelta

    from scheduling.worker import Worker

    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["problems"] == ["no worker seen recently"]
    Worker(sessions, clock.now, name="worker-1").tick()
    assert client.get("/readyz").get_json() == {"status": "ready"}
    clock.advance(timedelta(minutes=3))
    assert client.get("/readyz").status_code == 503


def test_readyz_notices_a_database_behind_the_code(tmp_path):
    from alembic import command

    from app import create_app
    from web.cli import alembic_config

    url = f"sqlite:///{tmp_path}/old.sqlite3"
    command.upgrade(alembic_config(url), "0001")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x"})
    problems = app.test_client().get("/readyz").get_json()["problems"]
    assert "database not migrated to the newest revision" in problems
    app.extensions["linja.engine"].dispose()


def test_each_request_is_one_log_line_without_phone_numbers(client, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="linja.request")
    client.get("/healthz?number=%2B4791234567")
    client.post("/hotline/sms", data={"From": "+4791234567", "Body": "hi"})  # unsigned: 403
    lines = [r.msg for r in caplog.records if r.name == "linja.request"]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/healthz", 200), ("POST", "/hotline/sms", 403)]
    assert "4791234567" not in caplog.text
