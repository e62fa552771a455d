"""The envelope every event carries, and the image reference used by several events."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TypedDict
from uuid import UUID, uuid4, uuid5

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class Caused(TypedDict):
    causation_id: UUID
    correlation_id: str | None


_NAMESPACE = UUID("3f0c6f7e-2b1d-4c55-9a4e-7d0b9e1a5c21")


def utcnow() -> datetime:
    return datetime.now(UTC)


def stable_id(*parts: object) -> UUID:
    """The same event id whenever the same fact is derived again (after a crash or a redelivery),
    so that readers recognise a republished fact by its `event_id`."""
    return uuid5(_NAMESPACE, "/".join(str(p) for p in parts))


class Event(BaseModel):
    """A fact that happened. Subclasses fix `event_type` and may raise `schema_version`."""

    # Unknown fields are ignored so that a newer producer's added field never breaks a reader.
    model_config = ConfigDict(
        frozen=True, extra="ignore", ser_json_bytes="base64", val_json_bytes="base64"
    )

    event_id: UUID = Field(default_factory=uuid4)
    event_type: str
    schema_version: int = 1
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    producer: str
    correlation_id: str | None = None
    causation_id: UUID | None = None

    def caused(self) -> Caused:
        """Envelope fields for an event that this one caused."""
        return {"causation_id": self.event_id, "correlation_id": self.correlation_id}


class ImageRef(BaseModel):
    """An image, inline when small, otherwise a claim check (URI + sha256) into the image store."""

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    uri: str | None = None
    data: bytes | None = None

    @model_validator(mode="after")
    def _has_content(self) -> ImageRef:
        if self.uri is None and self.data is None:
            raise ValueError("an image needs inline data or a uri")
        if self.data is not None and hashlib.sha256(self.data).hexdigest() != self.sha256:
            raise ValueError("inline data does not match its sha256")
        return self

    @classmethod
    def inline(cls, data: bytes) -> ImageRef:
        return cls(sha256=hashlib.sha256(data).hexdigest(), data=data)

    def without_data(self) -> ImageRef:
        return self if self.data is None else ImageRef(sha256=self.sha256, uri=self.uri)
