"""Demo data for a first `make run`: counselors with different languages and services,
a receptionist and an admin, the centre's opening hours and services named in every
language. Loaded once, into an empty database only.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.availability import BookingRules, find_free_slots
from scheduling.booking import Booked, book_appointment
from scheduling.clients import find_or_create_client, request_callback
from scheduling.models import (
    Actor,
    BookedVia,
    Closure,
    DutyShift,
    Language,
    OpeningHours,
    Service,
    ServiceName,
    Staff,
    StaffRole,
    WorkingHours,
)

DEMO_PASSWORD = "linja-demo"
DESK_PHONE = "+4790000001"  # the receptionist's phone in the demo: transfers ring it

# Callers with an appointment already, so the staff pages have something to show: her
# number, her language, the service and how she booked. Numbers the phone simulator does
# not use, so a caller there starts afresh.
CALLERS = [
    ("+4790000000", "so", "family", BookedVia.sms),
    ("+4790000010", "ar", "legal", BookedVia.voice),
    ("+4790000011", "ti", "social", BookedVia.sms),
    ("+4790000012", "fa", "talk", BookedVia.staff),
    ("+4790000013", "pl", "legal", BookedVia.sms),
    ("+4790000014", "ur", "talk", BookedVia.voice),
    ("+4790000015", "so", "talk", BookedVia.sms),
    ("+4790000016", "nb", "social", BookedVia.staff),
]
CALLBACK_CALLER = ("+4790000017", "ar")

SERVICES = {
    # slug: (minutes, buffer minutes, names per language)
    "legal": (60, 15, {
        "nb": "Juridisk rådgivning", "en": "Legal advice", "ar": "استشارة قانونية",
        "so": "La-talin sharci", "ur": "قانونی مشورہ", "ti": "ሕጋዊ ምኽሪ",
        "fa": "مشاوره حقوقی", "pl": "Porada prawna",
    }),
    "social": (45, 15, {
        "nb": "Sosial og økonomisk rådgivning", "en": "Social and money advice",
        "ar": "استشارة اجتماعية ومالية", "so": "La-talin bulsho iyo dhaqaale",
        "ur": "سماجی اور مالی مشورہ", "ti": "ማሕበራውን ቁጠባውን ምኽሪ",
        "fa": "مشاوره اجتماعی و مالی", "pl": "Porada socjalna i finansowa",
    }),
    # Named for how she is, not for a diagnosis: the menu may be read over her shoulder.
    "talk": (60, 15, {
        "nb": "Samtale om hvordan du har det", "en": "A talk about how you are",
        "ar": "حديث عن حالك", "so": "Wada-hadal ku saabsan sidaad tahay",
        "ur": "آپ کے حال پر بات چیت", "ti": "ብዛዕባ ከመይ ከም ዘለኺ ዘተ",
        "fa": "گفتگو درباره حال شما", "pl": "Rozmowa o samopoczuciu",
    }),
    "family": (60, 15, {
        "nb": "Familiespørsmål", "en": "Family questions", "ar": "أسئلة عائلية",
        "so": "Su'aalo qoys", "ur": "خاندانی معاملات", "ti": "ጉዳያት ስድራቤት",
        "fa": "مسائل خانوادگی", "pl": "Sprawy rodzinne",
    }),
}

MON, TUE, WED, THU, FRI = range(5)

STAFF = [
    # name, email, role, languages, services, (weekdays, from, to)
    ("Amina Warsame", "amina@linja.example", StaffRole.counselor, ["so", "ar", "nb", "en"],
     ["legal", "family"], ((MON, TUE, WED, THU), time(9), time(15))),
    ("Leila Rahimi", "leila@linja.example", StaffRole.counselor, ["fa", "nb", "en"],
     ["talk", "family", "social"], ((TUE, WED, THU, FRI), time(10), time(16))),
    ("Hiwot Tesfay", "hiwot@linja.example", StaffRole.counselor, ["ti", "nb", "en"],
     ["social", "family", "talk"], ((MON, WED, FRI), time(9), time(16))),
    ("Agnieszka Nowak", "agnieszka@linja.example", StaffRole.counselor, ["pl", "nb", "en"],
     ["legal", "social"], ((MON, TUE, WED, THU, FRI), time(9), time(14))),
    ("Sana Qureshi", "sana@linja.example", StaffRole.counselor, ["ur", "ar", "nb", "en"],
     ["legal", "talk"], ((MON, TUE, WED, THU), time(12), time(18, 30))),
    ("Ingrid Berg", "ingrid@linja.example", StaffRole.receptionist, ["nb", "en"], [],
     ((MON, TUE, WED, THU, FRI), time(9), time(16))),  # on duty for transferred calls
    ("Kari Nilsen", "kari@linja.example", StaffRole.admin, ["nb", "en"], [], None),
]

OPENING_HOURS = [(MON, time(9), time(16)), (TUE, time(9), time(16)), (WED, time(9), time(16)),
                 (THU, time(9), time(19)), (FRI, time(9), time(16))]


def is_loaded(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Staff)) > 0


def load_demo_data(
    session: Session, now: datetime, hash_password: Callable[[str], str], rules: BookingRules | None = None,
) -> list[tuple[str, str, StaffRole]]:
    """Fill an empty database; returns (name, email, role) of the staff created."""
    languages = {lang.code: lang for lang in session.scalars(select(Language))}
    services = {}
    for order, (slug, (minutes, buffer, names)) in enumerate(SERVICES.items()):
        service = Service(slug=slug, duration_minutes=minutes, buffer_minutes=buffer, menu_order=order)
        service.names = [ServiceName(language_code=code, name=name) for code, name in names.items()]
        session.add(service)
        services[slug] = service
    for weekday, opens, closes in OPENING_HOURS:
        session.add(OpeningHours(weekday=weekday, opens=opens, closes=closes))
    year = now.year
    session.add(Closure(first_day=date(year, 12, 24), last_day=date(year + 1, 1, 1), reason="Juleferie"))

    password_hash = hash_password(DEMO_PASSWORD)
    created = []
    for name, email, role, langs, slugs, hours in STAFF:
        member = Staff(
            name=name, email=email, role=role, password_hash=password_hash, is_active=True,
            created_at=now, phone_e164=DESK_PHONE if role == StaffRole.receptionist else None,
        )
        member.languages = [languages[code] for code in langs]
        member.services = [services[slug] for slug in slugs]
        session.add(member)
        session.flush()
        if hours and role == StaffRole.receptionist:
            weekdays, starts, ends = hours
            for weekday in weekdays:
                session.add(DutyShift(staff_id=member.id, weekday=weekday, starts=starts, ends=ends))
        elif hours:
            weekdays, starts, ends = hours
            for weekday in weekdays:
                session.add(WorkingHours(
                    staff_id=member.id, weekday=weekday, starts=starts, ends=ends,
                    valid_from=date(year, 1, 1),
                ))
        created.append((name, email, role))
    session.flush()
    _book_demo_callers(session, now, services, rules or BookingRules())
    return created


def _book_demo_callers(session: Session, now: datetime, services: dict[str, Service], rules: BookingRules) -> None:
    # Spread over the next days: each caller after the one before, as a real week fills up.
    not_before = now
    for phone, language, slug, via in CALLERS:
        client = find_or_create_client(session, phone, now)
        client.language_code = language
        slots = find_free_slots(session, service_id=services[slug].id, language_code=language, now=now,
                                rules=rules, limit=1, not_before=not_before)
        if not slots:
            continue
        slot = slots[0]
        result = book_appointment(
            session, service_id=services[slug].id, counselor_id=slot.counselor_id, start_at=slot.start_at,
            now=now, booked_via=via, client=client, language_code=language,
            actor=Actor.staff if via == BookedVia.staff else Actor.caller, rules=rules,
        )
        if isinstance(result, Booked):
            not_before = slot.start_at + timedelta(hours=2)
    phone, language = CALLBACK_CALLER
    client = find_or_create_client(session, phone, now)
    client.language_code = language
    request_callback(session, client, via=BookedVia.voice, now=now)
