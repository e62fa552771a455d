"""The notifiers against real receivers on loopback: a webhook that fails or stalls first and is
retried, mail over STARTTLS with a login, and a notice no one takes dead-lettered (parked)
while the other notifier still delivers."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.common.coordination import InMemoryCoordination
from services.common.ledger import InMemoryLedger
from services.common.registry import InMemoryRegistry
from services.common.settings import Backoff
from services.common.store import InMemoryImageStore
from services.common.tracking import InMemoryTracking
from services.gatekeeper import bootstrap as gate_boot
from services.gatekeeper import handlers
from services.gatekeeper.config import GatekeeperSettings
from services.gatekeeper.notices import Notice
from services.gatekeeper.notifiers import EmailSettings, NotifySettings, WebhookSettings
from tests.fakes import Published
from tests.receivers import MailReceiver, WebhookReceiver

pytestmark = pytest.mark.integration
QUICK = Backoff(initial_s=0.2, max_delay_s=0.5, max_elapsed_s=3)
NOTICE = Notice(
    key="alert-1",
    kind="rejected",
    severity="warning",
    summary="inspection v7 refused: holdout accuracy 0.41 < 0.93",
    iteration_id="it-7",
    line_id="line-a",
    details={"reasons": ["worse on the holdout"]},
)


class Parked(list[tuple[Notice, str, BaseException]]):
    async def __call__(self, notice: Notice, notifier: str, exc: BaseException) -> None:
        self.append((notice, notifier, exc))


def gatekeeper(notify: NotifySettings, parked: Parked) -> gate_boot.Gatekeeper:
    return gate_boot.bootstrap(
        settings=GatekeeperSettings(notify=notify),
        park=parked,
        publish=Published(),
        store=InMemoryImageStore(),
        registry=InMemoryRegistry(),
        tracking=InMemoryTracking(),
        coordination=InMemoryCoordination(),
        ledger=InMemoryLedger(),
    )


def mail_settings(mail: MailReceiver, password: str = "pw-1") -> EmailSettings:
    return EmailSettings(
        host="127.0.0.1",
        port=mail.port,
        username="yieldloop",
        password=SecretStr(password),
        recipients=["line-lead@example.com"],
        ca_file=mail.cert,
        timeout_s=5,
    )


def test_a_failed_post_is_retried_and_the_receiver_gets_it_once(tmp_path: Path) -> None:
    parked = Parked()
    with WebhookReceiver(fail=1) as hook:
        g = gatekeeper(NotifySettings(webhook=WebhookSettings(url=hook.url), retry=QUICK), parked)
        assert asyncio.run(handlers.notify(NOTICE, g)) == "done"
        assert asyncio.run(handlers.notify(NOTICE, g)) == "done"  # redelivered: not sent again
        posts = hook.of("alert-1")
    assert [p.answered for p in posts] == [500, 200]
    assert posts[1].body["text"].startswith("[yieldloop warning] inspection v7 refused")
    assert posts[1].body["iteration_id"] == "it-7" and not parked


def test_a_stalled_receiver_is_cut_off_by_the_timeout_and_tried_again() -> None:
    with WebhookReceiver(fail=1, stall_s=4) as hook:
        webhook = WebhookSettings(url=hook.url, timeout_s=1)
        g = gatekeeper(NotifySettings(webhook=webhook, retry=QUICK), Parked())
        started = time.monotonic()
        assert asyncio.run(handlers.notify(NOTICE, g)) == "done"
        took = time.monotonic() - started
        answered = [p.answered for p in hook.of("alert-1")]
    assert answered == [500, 200] and took < 3.5


def test_mail_goes_over_starttls_with_the_login(tmp_path: Path) -> None:
    with MailReceiver(tmp_path, username="yieldloop", password="pw-1") as mail:
        g = gatekeeper(NotifySettings(email=mail_settings(mail), retry=QUICK), Parked())
        assert asyncio.run(handlers.notify(NOTICE, g)) == "done"
        [received] = mail.mails
    assert received.tls and received.login == "yieldloop"
    message = email.message_from_bytes(received.content, policy=email.policy.default)
    assert str(message["Subject"]).strip().startswith("[yieldloop warning] inspection v7 refused")
    assert message["To"] == "line-lead@example.com"
    assert "it-7" in message.get_content()


def test_a_notice_no_one_takes_is_parked_and_the_other_notifier_still_delivers(
    tmp_path: Path,
) -> None:
    parked = Parked()
    with (
        WebhookReceiver(fail=1000) as hook,
        MailReceiver(tmp_path, username="yieldloop", password="pw-1") as mail,
    ):
        notify = NotifySettings(
            webhook=WebhookSettings(url=hook.url), email=mail_settings(mail), retry=QUICK
        )
        g = gatekeeper(notify, parked)
        assert asyncio.run(handlers.notify(NOTICE, g)) == "parked"
        assert len(mail.mails) == 1
        assert len(hook.of("alert-1")) >= 3  # tried until the budget was spent
    [(notice, notifier, exc)] = parked
    assert notice is NOTICE and notifier == "webhook" and "500" in str(exc)


def test_a_wrong_smtp_password_is_parked(tmp_path: Path) -> None:
    parked = Parked()
    with MailReceiver(tmp_path, username="yieldloop", password="pw-1") as mail:
        g = gatekeeper(NotifySettings(email=mail_settings(mail, "wrong"), retry=QUICK), parked)
        assert asyncio.run(handlers.notify(NOTICE, g)) == "parked"
        assert mail.mails == []
    [(_, notifier, exc)] = parked
    assert notifier == "email" and "535" in str(exc)
