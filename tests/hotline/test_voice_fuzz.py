"""Whatever keys a caller presses, at whatever step, the voice line answers Twilio with
well-formed TwiML, never an error page."""
from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.phone import SimulatedPhone, call, sign
from tests.hotline.test_voice import CheckedTransport, check_twiml

STEPS = ["language", "main", "service", "slot", "confirm", "appointment", "cancel", "hidden", "reminder-answer",
         "code", "code-new", "code-repeat", "after-dial", "recorded", "status", "reminder", "bridge"]


def test_any_keys_at_any_step_get_well_formed_twiml(app, centre):
    app.config["CALLS_PER_NUMBER_PER_HOUR"] = 100_000  # every example reaches the voice line
    transport = CheckedTransport(app)  # checks every answer is TwiML with Twilio's verbs only
    phone = SimulatedPhone(transport, "+4791234567", app.config["PUBLIC_BASE_URL"], app.config["TWILIO_AUTH_TOKEN"])
    line = call(phone)
    line.press("2")

    # "6", then "1234" twice, walks the code-word steps with her call really in them.
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(step=st.sampled_from(STEPS),
           digits=st.one_of(st.text(max_size=30), st.sampled_from(["1", "9", "0", "#", "", "6", "1234"])),
           tries=st.one_of(st.integers(-5, 99).map(str), st.text(max_size=5)),
           extra=st.dictionaries(st.sampled_from(["RecordingUrl", "DialCallStatus", "CallStatus", "AnsweredBy"]),
                                 st.text(max_size=40), max_size=3))
    def check(step, digits, tries, extra):
        path = f"/hotline/voice/{step}?tries={quote(tries)}&message=1&request=1"
        params = line.params(Digits=digits, **extra)
        url = app.config["PUBLIC_BASE_URL"] + path
        response = app.test_client().post(path, data=params, headers={"X-Twilio-Signature": sign(
            app.config["TWILIO_AUTH_TOKEN"], url, params)})
        has_nul = "\x00" in digits + tries + "".join(extra.values())  # never from Twilio: refused
        assert response.status_code in ((400,) if has_nul else (200, 404)), response.status_code
        if response.status_code == 200:
            body = response.get_data(as_text=True)
            check_twiml(body)
            assert "something went wrong" not in body, "the voice webhook failed inside"

    check()
