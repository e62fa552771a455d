"""The event vocabulary: every event survives the wire, and a bad one is refused by name."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

import schemas as s
from schemas.codec import UnknownEventType
from tests.samples import one_of_each
from yieldloop.events_doc import render


def test_every_event_type_has_its_own_topic_and_round_trips() -> None:
    events = one_of_each()
    assert {type(e) for e in events} == set(s.ALL_EVENTS)
    assert len({s.topic_for(e) for e in events}) == len(events)
    for event in events:
        assert s.decode_any(s.encode(event)) == event
        assert s.headers(event)["event_type"] == event.event_type


def test_an_event_missing_a_required_field_is_refused_naming_it() -> None:
    body = json.loads(s.encode(one_of_each()[3]))  # RetrainRequested
    del body["line_id"]
    with pytest.raises(ValidationError, match="line_id"):
        s.decode(json.dumps(body), s.RetrainRequested)


def test_a_field_of_the_wrong_type_is_refused_naming_it() -> None:
    body = json.loads(s.encode(one_of_each()[1]))  # PredictionMade
    body["confidence"] = "very"
    with pytest.raises(ValidationError, match="confidence"):
        s.decode_any(json.dumps(body))


def test_a_field_added_by_a_newer_producer_is_ignored() -> None:
    event = one_of_each()[0]
    body = json.loads(s.encode(event)) | {"camera_id": "cam-3"}
    assert s.decode_any(json.dumps(body)) == event


def test_events_are_frozen_facts() -> None:
    event = one_of_each()[0]
    with pytest.raises(ValidationError):
        event.producer = "someone else"  # type: ignore[misc]


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(UnknownEventType):
        s.decode_any(b'{"event_type": "SomethingElse"}')


def test_inline_image_bytes_must_match_their_hash() -> None:
    with pytest.raises(ValidationError, match="sha256"):
        s.ImageRef(sha256="0" * 64, data=b"abc")


def test_the_event_catalog_page_is_current() -> None:
    from services.common.settings import REPO_ROOT

    assert (REPO_ROOT / "docs" / "events.md").read_text() == render(), (
        "run `yieldloop events-doc` to regenerate docs/events.md"
    )
