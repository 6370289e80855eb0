"""Phone numbers at rest: encrypted, found by their keyed hash, moved by the migration,
and encrypted again with a new key when the keys rotate."""
from __future__ import annotations

import pytest
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import MetaData, Table, insert, select, text

from scheduling import crypto
from scheduling.clients import find_client, find_or_create_client
from scheduling.db import make_engine, make_session_factory
from scheduling.models import Client, Staff, StaffRole
from tests.conftest import NOW, fresh
from web import config as web_config
from web.cli import alembic_config, upgrade_database

NUMBER = "+4791234567"


def stored(session, table: str, row_id: int) -> str:
    """The number as the database holds it, without the app's decryption."""
    return session.execute(text(f"SELECT phone_e164 FROM {table} WHERE id = :id"), {"id": row_id}).scalar_one()


@pytest.fixture
def restore_keys():
    yield
    crypto.configure(crypto.keys_from_env())


def test_a_callers_number_is_stored_encrypted_and_found_by_its_hash(db_session, now):
    caller = find_or_create_client(db_session, NUMBER, now)
    db_session.commit()

    raw = stored(db_session, "clients", caller.id)
    assert NUMBER not in raw and NUMBER[3:] not in raw
    assert caller.phone_hash == crypto.phone_hash(NUMBER) and NUMBER[3:] not in caller.phone_hash
    found = find_client(fresh(db_session), NUMBER)
    assert found is not None and found.id == caller.id and found.phone_e164 == NUMBER
    assert find_client(db_session, "+4791234568") is None
    # Texting again is the same caller, not a new one (the ciphertexts differ every time).
    assert find_or_create_client(db_session, NUMBER, now).id == caller.id


def test_a_staff_number_is_stored_encrypted(make, db_session):
    staff = make.counselor(role=StaffRole.receptionist, phone_e164="+4798765432")
    db_session.commit()
    assert "98765432" not in stored(db_session, "staff", staff.id)
    assert fresh(db_session).get(Staff, staff.id).phone_e164 == "+4798765432"


def test_changing_or_removing_her_number_changes_the_hash(make, db_session):
    caller = make.client(phone_e164=NUMBER)
    caller.phone_e164 = "+4790000001"
    db_session.commit()
    assert find_client(db_session, NUMBER) is None
    assert find_client(db_session, "+4790000001").id == caller.id
    caller.phone_e164 = None
    assert caller.phone_hash is None


def test_searching_the_encrypted_column_in_sql_is_refused():
    with pytest.raises(TypeError, match="find_client"):
        select(Client).where(Client.phone_e164 == NUMBER)
    with pytest.raises(TypeError):
        select(Client).where(Client.phone_e164.like("+47%"))
    # Whether there is a number at all can still be asked.
    select(Client).where(Client.phone_e164.is_not(None), Client.phone_e164 != None)  # noqa: E711


def test_rotating_the_keys_encrypts_every_number_with_the_new_key(make, db_session, runner, restore_keys):
    hash_key = crypto.keys_from_env().hash_key
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    crypto.configure(crypto.PhoneKeys.parse(old, hash_key))
    caller = make.client(phone_e164=NUMBER)
    staff = make.counselor(phone_e164="+4798765432")
    db_session.commit()
    before = stored(db_session, "clients", caller.id)

    crypto.configure(crypto.PhoneKeys.parse(new, hash_key))  # the old key dropped too early
    with pytest.raises(crypto.UnreadableNumber):
        fresh(db_session).get(Client, caller.id).phone_e164
    db_session.rollback()

    crypto.configure(crypto.PhoneKeys.parse(f"{new},{old}", hash_key))
    result = runner.invoke(args=["rotate-phone-keys"])
    assert result.exit_code == 0, result.output
    assert "2 phone numbers" in result.output

    crypto.configure(crypto.PhoneKeys.parse(new, hash_key))  # now the old key can go
    db_session.expire_all()
    assert stored(db_session, "clients", caller.id) != before
    assert db_session.get(Client, caller.id).phone_e164 == NUMBER
    assert db_session.get(Staff, staff.id).phone_e164 == "+4798765432"
    assert find_client(db_session, NUMBER).id == caller.id


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migration_encrypts_existing_numbers_and_the_downgrade_decrypts_them(fresh_databases, backend):
    url = fresh_databases.new(backend)
    config = alembic_config(url)
    command.upgrade(config, "0006")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            clients_at_0006 = Table("clients", MetaData(), autoload_with=connection)
            connection.execute(insert(clients_at_0006), [
                {"id": i, "phone_e164": f"+479000000{i}", "is_opted_out": False, "created_at": NOW}
                for i in range(1, 4)] + [{"id": 4, "phone_e164": None, "is_opted_out": False, "created_at": NOW}])
            connection.execute(text(
                "INSERT INTO staff (id, name, email, role, phone_e164, is_active, created_at, ui_locale) "
                "VALUES (1, 'Ingrid', 'ingrid@linja.test', 'receptionist', '+4798765432', true, :now, 'nb')"),
                {"now": NOW})

        upgrade_database(url)
        session = make_session_factory(engine)()
        for i in range(1, 4):
            assert f"+479000000{i}" not in stored(session, "clients", i)
            assert find_client(session, f"+479000000{i}").id == i
        assert session.get(Client, 4).phone_e164 is None and session.get(Client, 4).phone_hash is None
        assert "98765432" not in stored(session, "staff", 1)
        assert session.get(Staff, 1).phone_e164 == "+4798765432"
        session.close()

        command.downgrade(config, "0006")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT phone_e164 FROM clients ORDER BY id")).scalars().all() == [
                "+4790000001", "+4790000002", "+4790000003", None]
            assert connection.execute(text("SELECT phone_e164 FROM staff")).scalar_one() == "+4798765432"
    finally:
        engine.dispose()


def test_production_needs_both_phone_keys():
    base = {"LINJA_ENV": "production", "SECRET_KEY": "s", "TWILIO_AUTH_TOKEN": "t", "DATABASE_URL": "sqlite://"}
    with pytest.raises(web_config.ConfigError, match="PHONE_KEYS and PHONE_HASH_KEY"):
        web_config.from_env(base)
    with pytest.raises(web_config.ConfigError, match="PHONE_HASH_KEY"):
        web_config.from_env({**base, "PHONE_KEYS": Fernet.generate_key().decode()})
    with pytest.raises(web_config.ConfigError, match="key 2 is not a Fernet key"):
        web_config.from_env({**base, "PHONE_KEYS": Fernet.generate_key().decode() + ",secret",
                               "PHONE_HASH_KEY": "h"})
    key = Fernet.generate_key().decode()
    config = web_config.from_env({**base, "PHONE_KEYS": key, "PHONE_HASH_KEY": "h"})
    assert (config["PHONE_KEYS"], config["PHONE_HASH_KEY"]) == (key, "h")


def test_locally_the_keys_are_made_once_and_kept(tmp_path):
    first = crypto.keys_from_env({}, instance=tmp_path)
    again = crypto.keys_from_env({}, instance=tmp_path)
    assert first == again and len(first.fernet_keys) == 1
    assert (tmp_path / "phone_keys").stat().st_mode & 0o777 == 0o600
    other = crypto.keys_from_env({}, instance=tmp_path / "elsewhere")
    assert crypto.Keyring(other).hash(NUMBER) != crypto.Keyring(first).hash(NUMBER)
