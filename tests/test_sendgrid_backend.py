"""The SendGrid backend against our local SendGrid-compatible server, over real HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections import Counter

import pytest

from app.notifications.backends import OutgoingEmail
from app.notifications.errors import (
    AmbiguousSendError,
    ConfigurationError,
    PermanentSendError,
    TransientSendError,
)
from app.notifications.sendgrid_backend import SendGridBackend
from devtools.sendgrid_stub import SendGridStub

API_KEY = "SG.test-key"


@pytest.fixture
def stub():
    with SendGridStub(api_key=API_KEY, hold_seconds=10) as s:
        yield s


def make_backend(url: str, **overrides) -> SendGridBackend:
    config = {
        "SENDGRID_API_KEY": API_KEY,
        "SENDGRID_API_HOST": url,
        "SENDGRID_TIMEOUT_SECONDS": 5,
        "SENDGRID_SANDBOX_MODE": False,
        "MAIL_FROM_EMAIL": "updates@agency.test",
        "AGENCY_NAME": "Northwind Staffing",
    }
    return SendGridBackend.from_config(config | overrides)


@pytest.fixture
def backend(stub):
    return make_backend(stub.url)


def email(
    n: int,
    *,
    kind: str = "rejection",
    text: str | None = None,
    html: str | None = "",
    to: str | None = None,
    **kw,
) -> OutgoingEmail:
    return OutgoingEmail(
        notification_id=n,
        to_email=to or f"candidate{n}@example.test",
        to_name=kw.pop("to_name", f"Candidate {n}"),
        subject=kw.pop("subject", f"Your application #{n}"),
        text=text if text is not None else f"Hello candidate {n}, text body.",
        html=f"<p>Hello candidate {n}</p>" if html == "" else html,
        category=kind,
        headers=kw.pop("headers", {}),
    )


def test_success_returns_the_message_id_for_every_message(stub, backend):
    ids = backend.send_batch([email(1), email(2), email(3)])

    records = stub.messages()
    assert len(set(ids)) == 1 and ids[0]
    assert [r["message_id"] for r in records] == ids
    assert stub.stats()["requests_by_status"] == {"202": 1}


def test_each_recipient_gets_only_their_own_message(stub, backend):
    messages = [
        email(
            1,
            subject="Zoë, über dein Gespräch ✓",
            text="Grüße, Zoë — 面接の結果",
            html="<p>Grüße, <b>Zoë</b> — 面接の結果 😀</p>",
            to_name="Zoë Müller",
            headers={"List-Unsubscribe": "<mailto:u@agency.test>"},
        ),
        email(
            2,
            subject='Tom & "Jerry" <update>',
            text="5 < 6 & 'quotes' \"double\" $1 \\n",
            html='<a href="https://x.test/?a=1&b=2">Tom &amp; Jerry</a><script>x</script>',
        ),
        email(3, text="Plain -only- text with -cl_html- looking tag", html=None),
    ]
    backend.send_batch(messages)

    by_id = {r["notification_id"]: r for r in stub.messages()}
    assert set(by_id) == {"1", "2", "3"}
    for m in messages:
        r = by_id[str(m.notification_id)]
        assert r["to"] == [m.to_email]
        assert r["to_names"] == [m.to_name]
        assert r["subject"] == m.subject
        assert r["text"] == m.text
        assert r["html"] == m.html
        assert r["custom_args"] == {"notification_id": str(m.notification_id)}
        assert r["categories"] == ["rejection"]
        assert r["headers"] == m.headers
        assert r["from"] == {"email": "updates@agency.test", "name": "Northwind Staffing"}
    stats = stub.stats()
    assert stats["multi_recipient_personalizations"] == 0
    # The two HTML messages share one request with substitutions; the text-only one cannot.
    assert stats["requests"] == 2
    assert by_id["1"]["used_substitutions"] and by_id["2"]["used_substitutions"]


def test_message_over_the_substitution_limit_goes_alone_inline(stub, backend):
    big_text = "é" * 5_200  # 5,200 characters but 10,400 bytes: the limit is in bytes
    messages = [email(1), email(2, text=big_text), email(3)]
    ids = backend.send_batch(messages)

    by_id = {r["notification_id"]: r for r in stub.messages()}
    assert by_id["2"]["text"] == big_text
    assert not by_id["2"]["used_substitutions"]
    assert by_id["1"]["used_substitutions"] and by_id["3"]["used_substitutions"]
    assert ids[0] == ids[2] != ids[1]
    assert stub.stats()["requests"] == 2


def test_batches_over_1000_are_split(stub, backend):
    messages = [email(n, html=None, text=f"t{n}") for n in range(1, 1501)]
    ids = backend.send_batch(messages)

    assert sorted(Counter(ids).values()) == [500, 1000]
    stats = stub.stats()
    assert stats["accepted"] == 1500 and stats["duplicates"] == 0
    assert stats["requests_by_status"] == {"202": 2}


def test_each_kind_is_its_own_request_so_categories_stay_true(stub, backend):
    backend.send_batch([email(1, kind="rejection"), email(2, kind="interview"), email(3)])

    by_id = {r["notification_id"]: r for r in stub.messages()}
    assert by_id["1"]["categories"] == by_id["3"]["categories"] == ["rejection"]
    assert by_id["2"]["categories"] == ["interview"]


def test_invalid_address_is_permanent_with_sendgrids_reason(stub, backend):
    with pytest.raises(PermanentSendError) as info:
        backend.send_batch([email(1, to="not-an-address")])

    assert info.value.status == 400
    assert info.value.reason == "SendGrid rejected the message: Does not contain a valid address."
    assert stub.stats()["accepted"] == 0


def test_a_rejected_batch_names_the_bad_recipients(stub, backend):
    with pytest.raises(PermanentSendError) as info:
        backend.send_batch([email(1), email(2, to="no-at-sign.test"), email(3, to="x@nodot")])

    assert info.value.rejected == {
        2: "Does not contain a valid address.",
        3: "Does not contain a valid address.",
    }
    assert info.value.accepted == {}
    assert info.value.reason == "SendGrid rejected the message: Does not contain a valid address."


def test_payload_too_large_is_permanent():
    with SendGridStub(api_key=API_KEY, max_body_bytes=2_000) as stub:
        with pytest.raises(PermanentSendError) as info:
            make_backend(stub.url).send_batch([email(1, text="x" * 5_000)])
    assert info.value.status == 413


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key_is_a_configuration_error(stub, status):
    backend = make_backend(stub.url, SENDGRID_API_KEY="SG.wrong" if status == 401 else API_KEY)
    if status == 403:
        stub.set_faults(script=[403])
    with pytest.raises(ConfigurationError) as info:
        backend.send_batch([email(1)])

    assert info.value.status == status
    assert f"SendGrid rejected our API key ({status}): check SENDGRID_API_KEY" in info.value.reason


def test_missing_key_fails_before_any_request(stub):
    with pytest.raises(ConfigurationError):
        make_backend(stub.url, SENDGRID_API_KEY="").send_batch([email(1)])
    assert stub.stats()["requests"] == 0


def test_rate_limit_uses_the_reset_header(stub, backend):
    stub.set_faults(script=[{"status": 429, "reset_in": 30, "retry_after": False}])
    with pytest.raises(TransientSendError) as info:
        backend.send_batch([email(1)])

    assert not isinstance(info.value, AmbiguousSendError)
    assert info.value.status == 429
    assert 27 <= info.value.retry_after <= 31


def test_rate_limit_prefers_retry_after(stub, backend):
    stub.set_faults(script=[{"status": 429, "reset_in": 7}])
    with pytest.raises(TransientSendError) as info:
        backend.send_batch([email(1)])
    assert info.value.retry_after == 7


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(stub, backend, status):
    stub.set_faults(script=[status])
    with pytest.raises(TransientSendError) as info:
        backend.send_batch([email(1)])
    assert type(info.value) is TransientSendError
    assert info.value.status == status
    assert stub.stats()["accepted"] == 0


def test_answer_too_late_is_ambiguous_and_the_provider_did_accept(stub):
    stub.set_faults(script=["timeout"])
    backend = make_backend(stub.url, SENDGRID_TIMEOUT_SECONDS=0.3)
    started = time.monotonic()
    with pytest.raises(AmbiguousSendError) as info:
        backend.send_batch([email(1)])

    assert time.monotonic() - started < 3
    assert "may have been accepted" in info.value.reason
    assert [r["notification_id"] for r in stub.messages()] == ["1"]


def test_connection_refused_is_transient_not_ambiguous():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = make_backend(f"http://127.0.0.1:{port}")
    with pytest.raises(TransientSendError) as info:
        backend.send_batch([email(1)])
    assert type(info.value) is TransientSendError
    assert info.value.status is None


def test_failure_after_an_accepted_request_reports_what_was_accepted(stub, backend):
    stub.set_faults(script=[202, 500])
    with pytest.raises(TransientSendError) as info:
        backend.send_batch([email(1, kind="rejection"), email(2, kind="interview"), email(3)])

    accepted = info.value.accepted
    assert set(accepted) == {1, 3}
    assert {r["notification_id"] for r in stub.messages()} == {"1", "3"}
    assert set(accepted.values()) == {stub.messages()[0]["message_id"]}


def test_sandbox_mode_is_sent(stub):
    ids = make_backend(stub.url, SENDGRID_SANDBOX_MODE=True).send_batch([email(1), email(2)])

    assert all(r["sandbox"] for r in stub.messages())
    assert len(ids) == 2 and all(ids)
    stats = stub.stats()
    assert stats["sandboxed"] == 2 and stats["accepted"] == 0
    assert stats["requests_by_status"] == {"200": 1}


def test_timeout_comes_from_config(stub):
    assert make_backend(stub.url, SENDGRID_TIMEOUT_SECONDS=2.5)._sg.client.timeout == 2.5


# -- the stub itself ------------------------------------------------------------------------


def _control(stub, path: str, payload: dict | None = None) -> dict:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(
        stub.url + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def test_stub_control_endpoints(stub, backend):
    _control(stub, "/_stub/faults", {"script": ["timeout"], "hold_seconds": 0.5})
    backend.send_batch([email(1)])  # held 0.5 s, under the client's 5 s timeout
    backend.send_batch([email(1), email(2)])

    stats = _control(stub, "/_stub/stats")
    assert stats["per_notification"] == {"1": 2, "2": 1}
    assert stats["duplicates"] == 1
    assert stats["requests_by_status"] == {"202": 1, "timeout": 1}
    messages = _control(stub, "/_stub/messages?notification_id=1")["messages"]
    assert [m["to"] for m in messages] == [["candidate1@example.test"]] * 2

    _control(stub, "/_stub/reset", {})
    assert _control(stub, "/_stub/stats")["accepted"] == 0


def test_stub_records_two_recipients_in_one_personalization(stub):
    # We never do this (see above); the stub must make it visible if anything ever does.
    body = {
        "from": {"email": "updates@agency.test"},
        "personalizations": [
            {"to": [{"email": "a@x.test"}, {"email": "b@x.test"}], "subject": "hi"}
        ],
        "content": [{"type": "text/plain", "value": "hello"}],
    }
    req = urllib.request.Request(
        stub.url + "/v3/mail/send",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 202 and resp.headers["X-Message-Id"]
    assert stub.stats()["multi_recipient_personalizations"] == 1


def test_stub_stops_cleanly_while_holding_an_answer():
    before = set(threading.enumerate())
    stub = SendGridStub(api_key=API_KEY, script=["timeout"], hold_seconds=60).start()
    backend = make_backend(stub.url, SENDGRID_TIMEOUT_SECONDS=0.2)
    with pytest.raises(AmbiguousSendError):
        backend.send_batch([email(1)])
    started = time.monotonic()
    stub.stop()

    assert time.monotonic() - started < 2
    assert set(threading.enumerate()) - before == set()


def test_staff_mail_carries_its_own_reference_not_a_notification_id(app):
    from app.notifications.backends import OutgoingEmail
    from app.notifications.sendgrid_backend import SendGridBackend
    from devtools.sendgrid_stub import SendGridStub

    with SendGridStub(api_key="k") as stub:
        backend = SendGridBackend(
            api_key="k", host=stub.url, from_email="a@b.test", from_name="Agency", timeout=5
        )
        backend.send_batch(
            [
                OutgoingEmail(
                    notification_id=None,
                    to_email="manager@agency.test",
                    to_name="M",
                    subject="Your morning digest",
                    text="3 overdue",
                    html=None,
                    category="digest",
                    custom_args={"staff_message_id": "7"},
                )
            ]
        )
        body = stub.messages()[0]
    assert body["custom_args"] == {"staff_message_id": "7"}
