"""What reaches a person, and in what words: a rejected candidate or any alert, an aborted
iteration, a dead letter. Pure: no HTTP, SMTP or Kafka here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas import AlertRaised, IterationAborted

Severity = Literal["info", "warning", "critical"]
NOTIFY_ORIGIN = "notify/"  # x-origin of a notice that could not be delivered


@dataclass(frozen=True)
class Notice:
    key: str  # one notice per key, however often its cause is delivered
    kind: str
    severity: Severity
    summary: str
    iteration_id: str | None = None
    line_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """JSON for a webhook; `text` is what Slack-compatible receivers show."""
        return {
            "text": f"[yieldloop {self.severity}] {self.summary}",
            "kind": self.kind,
            "severity": self.severity,
            "summary": self.summary,
            "iteration_id": self.iteration_id,
            "line_id": self.line_id,
            "details": self.details,
            "key": self.key,
        }

    def subject(self) -> str:
        return f"[yieldloop {self.severity}] {self.summary}"[:200]

    def body(self) -> str:
        return (
            f"{self.summary}\n\nkind: {self.kind}\niteration: {self.iteration_id or '-'}\n"
            f"line: {self.line_id or '-'}\n\n{json.dumps(self.details, indent=1, default=str)}\n"
        )


def of_alert(alert: AlertRaised) -> Notice:
    kind = str(alert.details.get("kind") or ("rejected" if "scores" in alert.details else "alert"))
    return Notice(
        key=str(alert.event_id),
        kind=kind,
        severity=alert.severity,
        summary=alert.summary,
        iteration_id=alert.iteration_id,
        line_id=alert.line_id,
        details=dict(alert.details),
    )


def of_abort(aborted: IterationAborted) -> Notice:
    return Notice(
        key=str(aborted.event_id),
        kind="aborted",
        severity="warning",
        summary=f"iteration {aborted.iteration_id} aborted at {aborted.stage}: {aborted.reason}",
        iteration_id=aborted.iteration_id,
        line_id=aborted.line_id,
        details={"stage": aborted.stage, "reason": aborted.reason},
    )


def of_dead_letter(headers: dict[str, str], key: str) -> Notice | None:
    """None for a notice that could not be delivered: telling of it would fail the same way."""
    origin = headers.get("x-origin", "")
    if origin.startswith(NOTIFY_ORIGIN):
        return None
    return Notice(
        key=f"dead-letter:{origin}",
        kind="dead_letter",
        severity="warning",
        summary=f"a {headers.get('event_type') or 'record'} from {origin} could not be handled",
        iteration_id=headers.get("correlation_id") or None,
        details={"origin": origin, "error": headers.get("x-error", ""), "key": key},
    )
