"""She chooses a time, not a counselor: a woman who chooses the time another woman took
a moment before her gets it with another counselor free then, one who speaks her language
as the offer did; only a move keeps her counselor."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from scheduling.models import Appointment, AppointmentStatus, BookedVia
from tests.conftest import fresh, oslo
from tests.hotline.test_sms_flows import first_offers, say
from tests.hotline.twilio_client import Phone

FIRST = oslo(2026, 11, 23, 10, 30)  # Monday: the first time offered at 08:00


@pytest.fixture
def talk(make, db_session):
    make.opening_hours()
    return make.service(minutes=60, buffer=15, names={"nb": "Samtale", "so": "Wada-hadal"})


def busier(make, counselor, talk, start_at):
    """Give ``counselor`` an appointment of someone else's, so the other, less busy that
    day, is the one every woman is offered (the load is spread)."""
    return make.appointment(counselor, talk, start_at, client=make.client(language_code="so"))


@pytest.fixture
def women(app, client):
    return Phone(client, app, "+4791234567"), Phone(client, app, "+4791234568")


def offered(phone):
    phone.text("hi")
    phone.text("4")  # Soomaali
    return phone.text("1")  # book: the one service's first times


def booked(db_session):
    return fresh(db_session).scalars(select(Appointment).where(
        Appointment.booked_via == BookedVia.sms).order_by(Appointment.id)).all()


def test_two_women_choosing_the_same_first_time_at_once_both_get_it(women, make, talk, db_session):
    first, second = (make.counselor(languages=["so", "nb"], services=[talk]) for _ in range(2))
    busier(make, second, talk, oslo(2026, 11, 23, 15, 0))
    db_session.commit()
    amina, hodan = women
    assert offered(amina) == offered(hodan)  # the same times, with the same counselor

    assert amina.text("1") == say("confirm_slot", "so", when=FIRST)
    assert hodan.text("1") == say("confirm_slot", "so", when=FIRST)  # not "that time was just taken"
    assert amina.text("haa") == say("booked", "so", when=FIRST)
    assert hodan.text("haa") == say("booked", "so", when=FIRST)

    appointments = booked(db_session)
    assert [a.start_at for a in appointments] == [FIRST, FIRST]
    assert [a.counselor_id for a in appointments] == [first.id, second.id]
    assert not any(a.is_interpreter_needed for a in appointments)


def test_with_no_other_counselor_free_then_the_second_is_told_it_was_taken(women, make, talk, db_session):
    make.counselor(languages=["so", "nb"], services=[talk])
    busier(make, make.counselor(languages=["so", "nb"], services=[talk]), talk, FIRST)
    db_session.commit()
    amina, hodan = women
    assert offered(amina) == offered(hodan)

    assert amina.text("1") == say("confirm_slot", "so", when=FIRST)
    assert hodan.text("1").startswith(say("slot_taken", "so") + "\n")
    assert amina.text("haa") == say("booked", "so", when=FIRST)
    assert [a.start_at for a in booked(db_session)] == [FIRST]


def test_a_counselor_who_needs_an_interpreter_does_not_stand_in_for_one_who_speaks_her_language(
    women, make, talk, db_session,
):
    speaker = make.counselor(languages=["so", "nb"], services=[talk])
    busier(make, make.counselor(languages=["nb"], services=[talk]), talk, oslo(2026, 11, 23, 15, 0))
    db_session.commit()
    amina, hodan = women
    offered(amina), offered(hodan)

    amina.text("1")
    assert hodan.text("1").startswith(say("slot_taken", "so") + "\n")
    amina.text("haa")
    [appointment] = booked(db_session)
    assert appointment.counselor_id == speaker.id


def test_a_move_keeps_her_counselor_even_when_another_is_free_at_the_time_she_chose(
    women, make, talk, db_session,
):
    hers = make.counselor(languages=["so", "nb"], services=[talk])
    other = make.counselor(languages=["so", "nb"], services=[talk])
    busier(make, other, talk, oslo(2026, 11, 23, 15, 0))
    amina, hodan = women
    tuesday = oslo(2026, 11, 24, 10, 0)
    appointment = make.appointment(hers, talk, tuesday, booked_via=BookedVia.sms,
                                   client=make.client(phone_e164=amina.number, language_code="so"))
    db_session.commit()
    amina.text("hi")
    assert amina.text("2") == say("appointment_menu", "so", when=tuesday)
    amina.text("2")  # move it
    assert first_offers(db_session, amina.number)[0] == {"start": FIRST.isoformat(), "counselor": hers.id,
                                                         "interpreter": False}
    offered(hodan)
    assert hodan.text("1") == say("confirm_slot", "so", when=FIRST)  # hodan takes it

    assert amina.text("1").startswith(say("slot_taken", "so") + "\n")
    moved = fresh(db_session).get(Appointment, appointment.id)
    assert (moved.start_at, moved.counselor_id, moved.status) == (tuesday, hers.id, AppointmentStatus.booked)
    assert hodan.text("haa") == say("booked", "so", when=FIRST)
    assert [a.counselor_id for a in booked(db_session) if a.id != appointment.id] == [hers.id]
