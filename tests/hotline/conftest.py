"""Fixtures for the phone-facing tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def centre(make, db_session):
    """Two services and three counselors: one each speaking Somali, Arabic and Tigrinya."""
    make.opening_hours()
    talk = make.service(minutes=60, buffer=15, names={"nb": "Samtale", "so": "Wada-hadal", "ar": "حديث", "ti": "ዘተ"})
    family = make.service(minutes=45, buffer=15, names={"nb": "Familie", "so": "Qoys", "ar": "عائلة", "ti": "ስድራ"})
    counselors = {
        "so": make.counselor(languages=["so", "nb"], services=[talk, family]),
        "ar": make.counselor(languages=["ar", "nb"], services=[talk, family]),
        "ti": make.counselor(languages=["ti", "nb"], services=[talk, family]),
    }
    db_session.commit()
    return {"talk": talk, "family": family, "counselors": counselors}
