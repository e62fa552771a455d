"""Events on the wire: JSON bodies, with type, version and correlation also as Kafka headers."""

from __future__ import annotations

import json
from typing import TypeVar

from schemas.envelope import Event
from schemas.topics import spec_for

E = TypeVar("E", bound=Event)

HEADER_TYPE = "event_type"
HEADER_VERSION = "schema_version"
HEADER_CORRELATION = "correlation_id"


class UnknownEventType(ValueError):
    pass


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()


def headers(event: Event) -> dict[str, str]:
    return {
        HEADER_TYPE: event.event_type,
        HEADER_VERSION: str(event.schema_version),
        HEADER_CORRELATION: event.correlation_id or "",
    }


def key(event: Event) -> bytes:
    """The Kafka key: the iteration for pipeline events, the line for streams."""
    return str(getattr(event, spec_for(event).key_field) or "").encode()


def decode(body: bytes | str, as_type: type[E]) -> E:
    """Parse and validate one event; a missing or mistyped field raises a ValidationError."""
    return as_type.model_validate_json(body)


def decode_any(body: bytes | str) -> Event:
    """Parse an event whose type is read from its own `event_type` field."""
    try:
        event_type = json.loads(body)["event_type"]
        cls = spec_for(event_type).event
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise UnknownEventType(f"not a known event: {exc!r}") from exc
    return cls.model_validate_json(body)
