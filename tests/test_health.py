from __future__ import annotations


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_healthz_reports_an_unreachable_database(tmp_path):
    from app import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3", "SECRET_KEY": "x"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
