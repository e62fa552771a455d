"""Alerts that reach someone, on the real stack: with a webhook receiver that stalls on its first
request and a mail server that demands STARTTLS and a login, a rejected candidate reaches both;
the webhook gets exactly one accepted POST after one failed attempt, and the decision was on
Kafka before any notification was tried. An aborted iteration and a dead letter reach it too."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import AlertRaised, ImageSubmitted, IterationAborted, ModelRejected
from schemas import topic_for as topic
from services.common.kafka import make_broker, publisher
from tests.e2e.conftest import System
from tests.e2e.test_gate import bad_candidate
from tests.kafka_io import read_topics
from tests.receivers import MailReceiver, Post, WebhookReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def receivers(system: System, tmp_path: Path) -> Iterator[tuple[WebhookReceiver, MailReceiver]]:
    """The gatekeeper restarted with both notifiers pointed at real receivers on loopback."""
    with (
        WebhookReceiver(fail=1, stall_s=4) as hook,
        MailReceiver(tmp_path, username="yieldloop", password="mail-pw") as mail,
    ):
        system.fleet.relaunch(
            "gatekeeper",
            env={
                "YIELDLOOP_NOTIFY__WEBHOOK__URL": hook.url,
                "YIELDLOOP_NOTIFY__WEBHOOK__TIMEOUT_S": "2",
                "YIELDLOOP_NOTIFY__EMAIL__HOST": "127.0.0.1",
                "YIELDLOOP_NOTIFY__EMAIL__PORT": str(mail.port),
                "YIELDLOOP_NOTIFY__EMAIL__USERNAME": "yieldloop",
                "YIELDLOOP_NOTIFY__EMAIL__PASSWORD": "mail-pw",
                "YIELDLOOP_NOTIFY__EMAIL__RECIPIENTS": '["line-lead@example.com"]',
                "YIELDLOOP_NOTIFY__EMAIL__CA_FILE": str(mail.cert),
                "YIELDLOOP_NOTIFY__RETRY__INITIAL_S": "0.5",
            },
        )
        try:
            yield hook, mail
        finally:
            system.fleet.relaunch("gatekeeper")


def wait_for(what: str, check: object, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"no {what} within {timeout_s:.0f} s"
        time.sleep(0.2)


def accepted(posts: list[Post]) -> bool:
    return any(p.answered == 200 for p in posts)


async def publish(system: System, *events: object) -> None:
    async with make_broker(system.settings, client_id="e2e-notify") as broker:
        for event in events:
            await publisher(broker)(event)  # type: ignore[arg-type]


def test_a_rejected_candidate_reaches_the_webhook_once_and_the_mailbox(
    system: System, receivers: tuple[WebhookReceiver, MailReceiver]
) -> None:
    hook, mail = receivers
    iteration = f"e2e-notify-{uuid.uuid4().hex[:6]}"
    candidate = bad_candidate(system, iteration, "e2e-notify")
    asyncio.run(publish(system, candidate))

    def mine(posts: list[Post]) -> list[Post]:
        return [p for p in posts if p.body.get("iteration_id") == iteration]

    wait_for("accepted POST", lambda: accepted(mine(hook.posts)))
    wait_for("mail", lambda: any(iteration.encode() in m.content for m in mail.mails))
    time.sleep(3)  # anything more would arrive now

    posts = mine(hook.posts)
    assert [p.answered for p in posts] == [500, 200]  # one failed attempt, retried, one accepted
    assert posts[1].body["kind"] == "rejected" and candidate.version in posts[1].body["text"]
    [received] = [m for m in mail.mails if iteration.encode() in m.content]
    assert received.tls and received.login == "yieldloop"
    subject = str(
        email.message_from_bytes(received.content, policy=email.policy.default)["Subject"]
    )
    assert "refused" in subject

    records = asyncio.run(
        read_topics(
            system.settings,
            [topic(ModelRejected), topic(AlertRaised)],
            until=lambda rs: sum(r.key == iteration.encode() for r in rs) >= 2,
        )
    )
    decided = [r for r in records if r.key == iteration.encode()]
    assert len(decided) == 2
    last_decision_s = max(r.timestamp for r in decided) / 1000
    assert last_decision_s < posts[0].at  # on Kafka before any notification was tried
    print(
        f"decision on Kafka {posts[0].at - last_decision_s:.2f} s before the first POST; "
        f"accepted POST {posts[1].at - last_decision_s:.2f} s after the decision"
    )


def test_an_aborted_iteration_and_a_dead_letter_reach_the_webhook(
    system: System, receivers: tuple[WebhookReceiver, MailReceiver]
) -> None:
    hook, _ = receivers
    iteration = f"e2e-abort-{uuid.uuid4().hex[:6]}"
    aborted = IterationAborted(
        producer="e2e",
        correlation_id=iteration,
        iteration_id=iteration,
        line_id="e2e-notify",
        stage="curator",
        reason="only 3 samples survived the committee",
    )
    asyncio.run(publish(system, aborted))

    async def poison() -> None:
        async with make_broker(system.settings, client_id="e2e-poison") as broker:
            body = json.dumps({"event_type": "ImageSubmitted", "line_id": iteration}).encode()
            await broker.publish(body, topic(ImageSubmitted), key=iteration.encode())

    asyncio.run(poison())

    def kinds() -> set[str]:
        return {
            p.body["kind"]
            for p in hook.posts
            if p.answered == 200 and iteration in json.dumps(p.body)
        }

    wait_for("both notices", lambda: kinds() >= {"aborted", "dead_letter"})
