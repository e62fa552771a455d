"""What `yieldloop topics ensure` asks of each topic, and how it words a difference."""

from __future__ import annotations

from schemas import CATALOG, DEAD_LETTER
from schemas.topics import ALERT_RAISED, PREDICTIONS_MADE
from services.common.settings import CommonSettings
from services.common.topics import TopicState, differences, plans


def test_every_catalog_topic_and_the_dead_letters_get_the_configured_layout() -> None:
    settings = CommonSettings(kafka={"partitions": 6, "replication_factor": 3})

    by_name = {plan.name: plan for plan in plans(settings)}

    assert set(by_name) == {spec.name for spec in CATALOG} | {DEAD_LETTER}
    assert {(p.partitions, p.replication_factor) for p in by_name.values()} == {(6, 3)}
    assert by_name[ALERT_RAISED].configs == {"retention.ms": "-1", "retention.bytes": "-1"}
    assert by_name[PREDICTIONS_MADE].configs == {
        "retention.ms": str(settings.kafka.stream_retention_ms),
        "retention.bytes": str(settings.kafka.stream_retention_bytes),
    }


def test_a_matching_topic_has_no_differences_and_each_mismatch_is_named() -> None:
    plan = next(p for p in plans(CommonSettings()) if p.name == ALERT_RAISED)
    same = TopicState(plan.partitions, plan.replication_factor, dict(plan.configs))
    other = TopicState(1, 2, {"retention.ms": "1000", "retention.bytes": "-1"})

    assert differences(plan, same) == []
    assert differences(plan, other) == [
        f"partitions 1, catalog wants {plan.partitions}",
        f"replication factor 2, catalog wants {plan.replication_factor}",
        "retention.ms 1000, catalog wants -1",
    ]
