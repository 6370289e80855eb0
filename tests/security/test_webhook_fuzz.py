"""Whatever Twilio's form carries (extra fields, odd or huge numbers, missing fields, bytes
that are not UTF-8), a signed webhook never answers with a server error."""
from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hotline.twilio_client import sign
from tests.security.support import webhook_paths

FIELDS = ["From", "To", "Body", "MessageSid", "SmsSid", "AccountSid", "NumMedia", "MessageStatus", "SmsStatus",
          "ErrorCode", "CallSid", "CallStatus", "Digits", "DialCallStatus", "RecordingUrl", "RecordingDuration",
          "AnsweredBy", "Caller", "FromCountry", "MediaUrl0"]
odd_numbers = st.one_of(
    st.sampled_from(["", "+", "+47", "+4791234567", "4791234567", "0047 912 34 567", "+447700900123",
                     "anonymous", "+266696687", "client:alice", "sip:x@y", "+" + "9" * 40, "+47" + "1" * 3000,
                     "+４７９１２３４５６７", "٩١٢٣٤٥٦٧", "+4791234567\x00", "\u202e+4791234567"]),
    st.text(max_size=60),
)
values = st.one_of(st.text(max_size=200), st.sampled_from(["", "0", "-1", "9" * 30, "\x00", "ø" * 1600]))
forms = st.fixed_dictionaries(
    {},
    optional={**{name: values for name in FIELDS}, "From": odd_numbers},
).flatmap(lambda known: st.dictionaries(st.text(min_size=1, max_size=20), values, max_size=4).map(
    lambda extra: {**extra, **known}))


def test_any_signed_form_to_any_webhook_gets_no_server_error(app, centre):
    paths = webhook_paths(app)
    token = app.config["TWILIO_AUTH_TOKEN"]
    client = app.test_client()
    statuses = []

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(path=st.sampled_from(paths), form=forms, query=st.sampled_from(["", "tries=1", "request=1&message=1",
                                                                           "tries=%FF", "message=-1"]))
    def check(path, form, query):
        url = f"https://linja.test{path}" + (f"?{query}" if query else "")
        response = client.post(path + (f"?{query}" if query else ""), data=form,
                               headers={"X-Twilio-Signature": sign(token, url, form)})
        assert response.status_code < 500, (path, form, response.get_data(as_text=True)[:500])
        statuses.append(response.status_code)

    check()
    assert 200 in statuses, "no fuzzed request got past the signature: the run tested nothing"


def test_bytes_that_are_not_utf8_get_no_server_error(app, centre):
    client = app.test_client()
    for path in webhook_paths(app):
        for body in (b"From=%2B4791234567&Body=%FF%FE%00&MessageSid=SM1&CallSid=CA1",
                     b"From=\xff\xfe&Body=\xc3\x28&CallSid=\xed\xa0\x80",
                     b"\x00\x01\x02" * 100, b"=&=&&==", b"Body=" + b"%" * 1000):
            response = client.post(path, data=body, content_type="application/x-www-form-urlencoded",
                                   headers={"X-Twilio-Signature": "x"})
            assert response.status_code < 500, (path, body)
            # Signed as Twilio would sign what Flask reads from it, it is still no error.
            with app.test_request_context(path, method="POST", data=body,
                                          content_type="application/x-www-form-urlencoded"):
                from flask import request

                form = request.form.to_dict()
            signature = sign(app.config["TWILIO_AUTH_TOKEN"], f"https://linja.test{path}", form)
            response = client.post(path, data=body, content_type="application/x-www-form-urlencoded",
                                   headers={"X-Twilio-Signature": signature})
            assert response.status_code < 500, (path, body, response.get_data(as_text=True)[:300])


def test_a_form_of_many_fields_gets_no_server_error(app):
    body = urlencode({f"f{n}": "x" for n in range(5000)}).encode()[:60_000]
    response = app.test_client().post("/hotline/sms", data=body, content_type="application/x-www-form-urlencoded",
                                      headers={"X-Twilio-Signature": "x"})
    assert response.status_code in (403, 413)
