"""Outbound webhooks against a local receiver that fails and then comes back: signed per
Standard Webhooks, the same webhook-id on every retry, retried with backoff, disabled after
repeated failure (with an alert) and nothing lost when enabled again; the admin pages."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.models import Alert, Stage, WebhookDelivery, WebhookEndpoint
from app.outbound import services, signing
from app.pipeline import services as pipeline
from tests import factories
from tests.web import Web
from tests.world import sign_in


class Receiver:
    """An HTTP server answering `fail_first` requests with 503, then 204; keeps each
    request's headers and body."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.received: list[tuple[dict, bytes, int]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 503 if outer.fail_first > 0 else 204
                outer.fail_first -= 1
                outer.received.append(
                    ({k.lower(): v for k, v in self.headers.items()}, body, status)
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _endpoint(url: str, events=("application.stage_changed",)) -> WebhookEndpoint:
    admin = factories.user("admin")
    db.session.commit()
    with clock.frozen(clock.now() - timedelta(minutes=1)):
        return services.create_endpoint(url=url, events=list(events), description=None, actor=admin)


def _move(owner=None) -> int:
    a = factories.application(position_=factories.position(owner=owner), stage=Stage.SUBMITTED)
    db.session.commit()
    pipeline.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
    return a.id


def test_signature_matches_the_standard_webhooks_example():
    # The example of the Standard Webhooks specification's reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    sig = signing.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    headers = signing.headers(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signing.verify(secret, headers, body, now=1614265330 + 60)
    assert not signing.verify(secret, headers, body + b" ", now=1614265330)
    assert not signing.verify(secret, headers, body, now=1614265330 + 301)


def test_a_stage_change_reaches_a_receiver_that_fails_then_comes_back(app, receiver):
    receiver.fail_first = 2
    endpoint = _endpoint(receiver.url)
    application_id = _move()
    assert services.collect() == 1
    assert services.collect() == 0  # collecting again owes nothing twice
    delivery = db.session.scalar(sa.select(WebhookDelivery))
    assert services.deliver(delivery.id) == "pending"
    db.session.refresh(delivery)
    first_retry = delivery.next_attempt_at
    assert delivery.attempts == 1 and first_retry > clock.now()
    assert services.due() == []  # not before its backoff
    with clock.frozen(first_retry + timedelta(seconds=1)) as frozen:
        assert services.due() == [delivery.id]
        assert services.deliver(delivery.id) == "pending"
        db.session.refresh(delivery)
        frozen.current = delivery.next_attempt_at + timedelta(seconds=1)
        assert services.deliver(delivery.id) == "delivered"
    statuses = [status for _, _, status in receiver.received]
    assert statuses == [503, 503, 204]
    ids = {headers["webhook-id"] for headers, _, _ in receiver.received}
    assert ids == {delivery.message_id}  # one id for every attempt: the receiver dedupes
    headers, body, _ = receiver.received[-1]
    now = int(headers["webhook-timestamp"])
    assert signing.verify(endpoint.secret, headers, body, now=now)
    event = json.loads(body)
    assert event["type"] == "application.stage_changed"
    assert event["data"]["application_id"] == application_id
    assert event["data"]["to_stage"] == "client_review"
    assert db.session.get(WebhookEndpoint, endpoint.id).consecutive_failures == 0


def test_only_subscribed_events_and_only_after_the_endpoint_existed(app, receiver):
    _move()  # before any endpoint
    endpoint = _endpoint(receiver.url, events=("task.opened",))
    _move()
    assert services.collect() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 0
    assert endpoint.event_types == ["task.opened"]


@pytest.mark.app_config(WEBHOOK_DISABLE_AFTER_FAILURES=3)
def test_disabled_after_repeated_failure_with_an_alert_and_nothing_lost(app, receiver):
    receiver.fail_first = 3
    endpoint = _endpoint(receiver.url)
    for _ in range(3):
        _move()
    services.collect()
    ids = list(db.session.scalars(sa.select(WebhookDelivery.id).order_by(WebhookDelivery.id)))
    for delivery_id in ids:
        services.deliver(delivery_id)
    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert not endpoint.enabled and "3 failed deliveries" in endpoint.disabled_reason
    alert = db.session.scalar(sa.select(Alert).where(Alert.kind == "webhook_disabled"))
    assert alert is not None and receiver.url in alert.message
    later = clock.now() + timedelta(days=1)
    with clock.frozen(later):
        assert services.due() == []  # a disabled endpoint's deliveries wait
        services.set_enabled(endpoint, True)
        assert sorted(services.due()) == ids
        assert [services.deliver(i) for i in ids] == ["delivered"] * 3
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).resolved_at is not None


def test_sweep_enqueues_one_job_per_due_delivery(app, receiver):
    from app.notifications.dispatch import MAINTENANCE_QUEUE, queue

    _endpoint(receiver.url)
    _move()
    result = services.sweep()
    assert result == {"collected": 1, "enqueued": 1}
    jobs = [
        j for j in queue(MAINTENANCE_QUEUE).get_jobs() if j.func_name.endswith("deliver_webhook")
    ]
    assert len(jobs) == 1
    services.sweep()  # the same delivery is not queued twice
    jobs = [
        j for j in queue(MAINTENANCE_QUEUE).get_jobs() if j.func_name.endswith("deliver_webhook")
    ]
    assert len(jobs) == 1


def test_unreachable_receiver_is_a_failure_not_a_crash(app):
    _endpoint("http://127.0.0.1:9/nothing-listens")
    _move()
    services.collect()
    delivery = db.session.scalar(sa.select(WebhookDelivery))
    assert services.deliver(delivery.id) == "pending"
    db.session.refresh(delivery)
    assert "could not connect" in delivery.last_error


def test_admin_pages(app, client, receiver):
    admin = factories.user("admin")
    db.session.commit()
    web = Web(client)
    sign_in(web, admin)
    assert (
        web.post("/admin/webhooks/", data={"url": "ftp://x", "events": ["task.opened"]}).status_code
        == 400
    )
    assert web.post("/admin/webhooks/", data={"url": receiver.url}).status_code == 400
    made = web.post(
        "/admin/webhooks/",
        data={"url": receiver.url, "events": ["task.opened", "notification.sent"]},
    )
    assert made.status_code == 302
    page = web.get(made.headers["Location"]).get_data(as_text=True)
    assert "whsec_" in page and "A task was opened" in page
    endpoint = db.session.scalar(sa.select(WebhookEndpoint))
    assert web.post(f"/admin/webhooks/{endpoint.id}/disable").status_code == 302
    db.session.expire_all()
    assert not db.session.get(WebhookEndpoint, endpoint.id).enabled
