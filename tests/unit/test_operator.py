"""An operator's moves of the champion: a rollback goes back one step, and only as far as asked;
a deployment by hand goes forward only."""

from __future__ import annotations

import pytest

from services.common.operator import Move, Refused, deploy, plan_rollback, rollback
from services.common.registry import CHAMPION, PREVIOUS, WITHDRAWN, InMemoryRegistry, promote


def registry_of(versions: int) -> InMemoryRegistry:
    registry = InMemoryRegistry()
    for n in range(versions):
        mv = registry.register("m", f"w{n}".encode(), arch="cnn_small", classes=("NG", "OK"))
        promote(registry, "m", mv.version)
    return registry


def test_a_rollback_goes_to_previous_or_to_the_version_named() -> None:
    assert plan_rollback(champion="3", previous="2", to=None) == Move(to="2", away_from="3")
    assert plan_rollback(champion="3", previous="2", to="1") == Move(to="1", away_from="3")
    assert plan_rollback(champion="3", previous=None, to="1") == Move(to="1", away_from="3")
    for champion, previous, to in ((None, "2", None), ("3", None, None), ("3", "2", "3")):
        with pytest.raises(Refused):
            plan_rollback(champion=champion, previous=previous, to=to)


def test_rolling_back_twice_does_not_go_two_versions_back_unless_asked() -> None:
    registry = registry_of(3)
    first = rollback(registry, "m", reason="escapes", actor="ana")
    assert (first.from_version, first.version) == ("3", "2")
    assert registry.get("m", "3").tags[WITHDRAWN].startswith(first.rollback_id)
    with pytest.raises(Refused, match="no previous"):
        rollback(registry, "m", reason="again", actor="ana")
    second = rollback(registry, "m", reason="v2 too", actor="ana", to="1")
    champion = registry.by_alias("m", CHAMPION)
    assert second.version == "1" and champion is not None and champion.version == "1"
    assert registry.by_alias("m", PREVIOUS) is None
    with pytest.raises(Refused, match="reason"):
        rollback(registry, "m", reason=" ", actor="ana", to="2")


def test_a_deployment_by_hand_goes_forward_and_lifts_a_withdrawal() -> None:
    registry = registry_of(3)
    rollback(registry, "m", reason="escapes", actor="ana")
    with pytest.raises(Refused, match="older"):
        deploy(registry, "m", "1", reason="why not", actor="ana")
    approved = deploy(registry, "m", "3", reason="fixed the lamp", actor="ana")
    assert approved.previous_version == "2" and approved.producer == "operator"
    assert "fixed the lamp" in approved.reasons[0]
    assert WITHDRAWN not in registry.get("m", "3").tags
    champion = registry.by_alias("m", CHAMPION)
    assert champion is not None and champion.version == "3"
