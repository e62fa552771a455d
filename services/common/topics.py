"""The catalog's topics on any broker: created where missing, compared where present.

Partitions, replication factor and retention come from settings (`kafka:`); the same security
settings as every client. An existing topic is never changed: a difference is reported, since
repartitioning moves keys to other partitions and shrinking retention deletes facts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from schemas import CATALOG, DEAD_LETTER, Retention
from services.common.kafka import security_options
from services.common.settings import CommonSettings

RETENTION_KEYS = ("retention.ms", "retention.bytes")


@dataclass(frozen=True)
class TopicPlan:
    """What the catalog and settings want of one topic."""

    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]


@dataclass(frozen=True)
class TopicState:
    """What the broker has."""

    partitions: int
    replication_factor: int
    configs: Mapping[str, str]


@dataclass
class TopicsReport:
    created: list[str] = field(default_factory=list)
    matching: list[str] = field(default_factory=list)
    differing: dict[str, list[str]] = field(default_factory=dict)  # topic: what differs

    def lines(self) -> list[str]:
        said = [f"{len(self.created)} created, {len(self.matching)} as the catalog wants"]
        said += [f"{name} differs: {'; '.join(found)}" for name, found in self.differing.items()]
        return said


def topic_configs(settings: CommonSettings, retention: Retention) -> dict[str, str]:
    if retention is Retention.FOREVER:
        return {"retention.ms": "-1", "retention.bytes": "-1"}
    k = settings.kafka
    return {
        "retention.ms": str(k.stream_retention_ms),
        "retention.bytes": str(k.stream_retention_bytes),
    }


def plans(settings: CommonSettings) -> list[TopicPlan]:
    kept = {spec.name: spec.retention for spec in CATALOG} | {DEAD_LETTER: Retention.FOREVER}
    k = settings.kafka
    return [
        TopicPlan(name, k.partitions, k.replication_factor, topic_configs(settings, retention))
        for name, retention in kept.items()
    ]


def differences(plan: TopicPlan, state: TopicState) -> list[str]:
    """Each way the broker's topic differs from the plan, in words."""
    found = []
    if state.partitions != plan.partitions:
        found.append(f"partitions {state.partitions}, catalog wants {plan.partitions}")
    if state.replication_factor != plan.replication_factor:
        found.append(
            f"replication factor {state.replication_factor}, "
            f"catalog wants {plan.replication_factor}"
        )
    for key, want in plan.configs.items():
        have = state.configs.get(key)
        if have != want:
            found.append(f"{key} {have}, catalog wants {want}")
    return found


async def ensure_topics(settings: CommonSettings) -> TopicsReport:
    """Create the catalog's missing topics; report those that exist but differ."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, **security_options(settings)
    )
    await admin.start()
    try:
        return await _ensure(admin, plans(settings))
    finally:
        await admin.close()


async def _ensure(admin: AIOKafkaAdminClient, wanted: list[TopicPlan]) -> TopicsReport:
    report = TopicsReport()
    existing = set(await admin.list_topics())
    missing = [plan for plan in wanted if plan.name not in existing]
    if missing:
        await admin.create_topics(
            [
                NewTopic(p.name, p.partitions, p.replication_factor, topic_configs=dict(p.configs))
                for p in missing
            ]
        )
        report.created = [p.name for p in missing]
    present = [plan for plan in wanted if plan.name in existing]
    states = await _states(admin, [p.name for p in present])
    for plan in present:
        found = differences(plan, states[plan.name])
        if found:
            report.differing[plan.name] = found
        else:
            report.matching.append(plan.name)
    return report


async def partitions_of(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    """Every partition of a topic, as the broker describes it now."""
    [described] = await admin.describe_topics([topic])
    return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])


async def _states(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, TopicState]:
    if not names:
        return {}
    layout = {t["topic"]: t["partitions"] for t in await admin.describe_topics(names)}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name, None) for name in names]
    configs: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            configs[resource["resource_name"]] = _retention(resource["config_entries"])
    return {
        name: TopicState(
            partitions=len(layout[name]),
            replication_factor=max((len(p["replicas"]) for p in layout[name]), default=0),
            configs=configs.get(name, {}),
        )
        for name in names
    }


def _retention(entries: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {
        str(e["config_names"]): str(e["config_value"])
        for e in entries
        if e["config_names"] in RETENTION_KEYS
    }
