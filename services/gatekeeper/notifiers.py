"""Where notices go: a webhook (a JSON POST, Slack-compatible) and email over SMTP with
STARTTLS. Configured under `notify:` in the YAML; one left without a target is off."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import httpx
from pydantic import BaseModel, Field, SecretStr

from services.common.settings import Backoff
from services.gatekeeper.notices import Notice


class WebhookSettings(BaseModel):
    url: str | None = None  # None: no webhook
    timeout_s: float = Field(5.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)


class EmailSettings(BaseModel):
    host: str | None = None  # None: no email
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password: SecretStr | None = None  # better from YIELDLOOP_NOTIFY__EMAIL__PASSWORD
    sender: str = "yieldloop@localhost"
    recipients: list[str] = Field(default_factory=list)
    timeout_s: float = Field(10.0, gt=0)
    ca_file: Path | None = None  # trust this CA besides the system's (a private relay)


class NotifySettings(BaseModel):
    webhook: WebhookSettings = WebhookSettings()
    email: EmailSettings = EmailSettings()
    # A notice that still fails after this budget is dead-lettered; the gate never waits on it.
    retry: Backoff = Backoff(initial_s=1.0, max_delay_s=10.0, max_elapsed_s=60.0)


class Notifier(Protocol):
    name: str

    async def send(self, notice: Notice) -> None:
        """Deliver the notice or raise."""


class Webhook:
    name = "webhook"

    def __init__(self, settings: WebhookSettings, url: str) -> None:
        self.settings, self.url = settings, url

    async def send(self, notice: Notice) -> None:
        async with httpx.AsyncClient(timeout=self.settings.timeout_s) as client:
            response = await client.post(
                self.url, json=notice.payload(), headers=self.settings.headers
            )
            response.raise_for_status()


class Email:
    name = "email"

    def __init__(self, settings: EmailSettings, host: str) -> None:
        self.settings, self.host = settings, host

    async def send(self, notice: Notice) -> None:
        await asyncio.to_thread(self._send, notice)

    def _send(self, notice: Notice) -> None:
        s = self.settings
        message = EmailMessage()
        message["Subject"], message["From"] = notice.subject(), s.sender
        message["To"] = ", ".join(s.recipients)
        message.set_content(notice.body())
        context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        with smtplib.SMTP(self.host, s.port, timeout=s.timeout_s) as smtp:
            if s.starttls:
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, s.password.get_secret_value() if s.password else "")
            smtp.send_message(message)


def notifiers(settings: NotifySettings) -> list[Notifier]:
    """The notifiers the settings name a target for."""
    found: list[Notifier] = []
    if settings.webhook.url:
        found.append(Webhook(settings.webhook, settings.webhook.url))
    if settings.email.host and settings.email.recipients:
        found.append(Email(settings.email, settings.email.host))
    return found
