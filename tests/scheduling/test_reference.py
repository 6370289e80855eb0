"""The reference data kept per process (scheduling.reference): never older than what the
database has committed, and never what a transaction wrote and then took back."""
from __future__ import annotations

from datetime import date, time

from sqlalchemy import select

from scheduling.models import Closure, Language, OpeningHours, Service, ServiceName
from scheduling.reference import reference


def test_a_change_committed_anywhere_is_seen_by_the_next_transaction(sessions, make):
    service = make.service(slug="legal", names={"nb": "Juridisk", "en": "Legal"})
    make.session.commit()
    reader = sessions()
    assert reference(reader).services[service.id].name_in("en") == "Legal"
    assert reference(reader) is reference(reader)  # read once per transaction
    reader.commit()

    writer = sessions()
    writer.get(ServiceName, (service.id, "en")).name = "Legal advice"
    writer.add(OpeningHours(weekday=5, opens=time(10), closes=time(14)))
    writer.add(Closure(first_day=date(2026, 12, 24), last_day=date(2026, 12, 31)))
    writer.get(Language, "pl").is_enabled = False
    writer.commit()

    known = reference(reader)
    assert known.services[service.id].name_in("en") == "Legal advice"
    assert known.opening[5] == ((time(10), time(14)),)
    assert known.closures_between(date(2026, 12, 20), date(2026, 12, 24)) == [(date(2026, 12, 24), date(2026, 12, 31))]
    assert "pl" not in dict(known.languages)
    reader.close()
    writer.get(Language, "pl").is_enabled = True
    writer.commit()
    writer.close()


def test_what_a_transaction_wrote_and_took_back_is_not_kept(sessions, make):
    service = make.service(slug="talk", names={"nb": "Samtale"})
    make.session.commit()
    writer = sessions()
    writer.get(Service, service.id).is_active = False
    writer.flush()
    assert service.id not in reference(writer).active_services  # her own change, for her
    writer.rollback()
    writer.close()
    # Another change commits: the version her rollback took back is given out again.
    with sessions() as other:
        other.get(ServiceName, (service.id, "nb")).name = "Samtaler"
        other.commit()

    reader = sessions()
    assert service.id in reference(reader).active_services
    assert reference(reader).services[service.id].name_in("nb") == "Samtaler"
    reader.close()
    # A deleted service is gone for the next reader, though no staff page was used.
    with sessions() as other:
        other.execute(ServiceName.__table__.delete())
        other.execute(Service.__table__.delete().where(Service.id == service.id))
        other.commit()
    with sessions() as reader:
        assert service.id not in reference(reader).services
        assert reader.scalars(select(Service)).all() == []


def test_a_savepoint_inside_the_transaction_does_not_make_it_read_the_version_again(sessions, make, engine):
    from sqlalchemy import event

    make.service(slug="legal", names={"nb": "Juridisk"})
    make.session.commit()
    read = []
    listen = lambda _c, _cur, statement, *_: read.append(statement) if "reference_version" in statement else None  # noqa: E731
    reader = sessions()
    event.listen(reader.get_bind(), "before_cursor_execute", listen)
    try:
        first = reference(reader)
        with reader.begin_nested():  # a hold or a booking's savepoint, released
            pass
        with reader.begin_nested() as attempt:  # and one rolled back
            attempt.rollback()
        assert reference(reader) is first
        assert len(read) == 1
        reader.commit()
        reference(reader)  # the next transaction reads it afresh
        assert len(read) == 2
    finally:
        event.remove(reader.get_bind(), "before_cursor_execute", listen)
        reader.close()


def test_a_version_read_with_other_things_is_used_and_a_newer_one_reloads(sessions, make):
    from scheduling.reference import read_version, version_column

    service = make.service(slug="legal", names={"nb": "Juridisk"})
    make.session.commit()
    with sessions() as reader:
        read_version(reader, reader.scalar(select(version_column())))
        assert reference(reader).services[service.id].name_in("nb") == "Juridisk"
    with sessions() as writer:
        writer.get(ServiceName, (service.id, "nb")).name = "Rettshjelp"
        writer.commit()
    with sessions() as reader:
        read_version(reader, reader.scalar(select(version_column())))
        assert reference(reader).services[service.id].name_in("nb") == "Rettshjelp"
