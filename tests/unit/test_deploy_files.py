"""What the deployment files promise, read as Compose and the cluster would read them. The tools
(hadolint, `docker compose config`, the compose-spec schema, kubernetes-validate) check the
syntax in `make check-deploy`; these check the meaning."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from services.common.settings import DEFAULT_CONFIG, CommonSettings, load_settings
from services.curator.config import CuratorSettings
from services.gatekeeper.config import GatekeeperSettings
from services.inference.config import InferenceSettings
from services.monitor.config import MonitorSettings
from services.trainer.config import TrainerSettings
from tests.deployfiles import (
    APPS,
    K8S,
    SERVICES,
    command,
    compose_config,
    final_stage,
    manifests,
    resources,
)
from yieldloop.dashboard.config import DashboardSettings

PINNED = re.compile(r"^[\w./-]+:(?!latest$)[\w.-]*\d[\w.-]*$")
# What differs between the laptop and the cluster; every other setting must stay the same.
CLUSTER_KEYS = {
    "kafka.bootstrap_servers",
    "kafka.replication_factor",
    "redis.url",
    "mlflow.tracking_uri",
    "store.root",
    *(f"{app}.{key}" for app in APPS for key in ("host", "port")),
}


def flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_the_image_runs_a_service_as_a_non_root_user_and_checks_its_readiness() -> None:
    stage = final_stage()

    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", stage.base)
    assert stage.user not in ("root", "0", "")
    assert stage.entrypoint == ["yieldloop"] and stage.cmd == ["serve", "inference"]
    assert "http://127.0.0.1:8000/readyz" in " ".join(stage.healthcheck)
    assert {stage.env[f"YIELDLOOP_{app.upper()}__PORT"] for app in APPS} == {"8000"}
    assert {stage.env[f"YIELDLOOP_{app.upper()}__HOST"] for app in APPS} == {"0.0.0.0"}


def test_compose_runs_every_part_from_pinned_images() -> None:
    services = compose_config("producer")["services"]

    assert set(services) >= {"kafka", "kafka-ui", "redis", "mlflow", "init", *APPS}
    assert services["producer"]["profiles"] == ["producer"]
    assert all(PINNED.match(s["image"]) for s in services.values()), {
        name: s["image"] for name, s in services.items()
    }
    assert services["kafka"]["image"] == f"apache/kafka:{CommonSettings().stack.kafka_version}"
    assert re.fullmatch(r"ghcr\.io/kafbat/kafka-ui:v1\.\d+\.\d+", services["kafka-ui"]["image"])
    assert services["kafka-ui"]["environment"]["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka:9092"
    for name in APPS:
        assert services[name]["command"] == command(name)


def test_compose_starts_services_after_healthy_dependencies_and_the_init_job() -> None:
    services = compose_config()["services"]

    for name in SERVICES:
        conditions = {dep: d["condition"] for dep, d in services[name]["depends_on"].items()}
        assert conditions == {
            "kafka": "service_healthy",
            "redis": "service_healthy",
            "mlflow": "service_healthy",
            "init": "service_completed_successfully",
        }
    # The dashboard reads Kafka and asks MLflow; it needs no Redis.
    dashboard = {dep: d["condition"] for dep, d in services["dashboard"]["depends_on"].items()}
    assert dashboard == {
        "kafka": "service_healthy",
        "mlflow": "service_healthy",
        "init": "service_completed_successfully",
    }
    for name in APPS:
        assert "/readyz" in " ".join(services[name]["healthcheck"]["test"])
    assert all("test" in s["healthcheck"] for n, s in services.items() if n not in ("init", *APPS))
    assert " ".join(services["init"]["command"]) == "yieldloop topics ensure && yieldloop bootstrap"


def test_compose_keeps_data_in_named_volumes_and_binds_ports_to_loopback() -> None:
    model = compose_config()
    services = model["services"]

    assert set(model["volumes"]) == {"kafka", "redis", "mlflow", "images"}
    mounts = {name: {v["source"] for v in s.get("volumes", [])} for name, s in services.items()}
    assert mounts["kafka"] == {"kafka"} and mounts["redis"] == {"redis"}
    assert mounts["mlflow"] == {"mlflow"}
    assert all(mounts[name] == {"images"} for name in ("init", *SERVICES))
    assert mounts["dashboard"] == set()
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert {p["host_ip"] for p in published} == {"127.0.0.1"}
    assert [(p["published"], p["target"]) for p in services["inference"]["ports"]] == [
        ("8000", 8000)
    ]
    assert [(p["published"], p["target"]) for p in services["dashboard"]["ports"]] == [
        ("8005", 8000)
    ]


def test_compose_configures_the_services_through_the_settings_variables() -> None:
    environment = compose_config()["services"]["inference"]["environment"]

    assert environment == {
        "YIELDLOOP_KAFKA__BOOTSTRAP_SERVERS": "kafka:9092",
        "YIELDLOOP_REDIS__URL": "redis://redis:6379/0",
        "YIELDLOOP_MLFLOW__TRACKING_URI": "http://mlflow:5000",
        "YIELDLOOP_STORE__ROOT": "/data/store",
    }


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())

    assert set(kustomization["resources"]) == set(manifests()) - {"kustomization.yaml"}
    assert [image["name"] for image in kustomization["images"]] == ["yieldloop"]


def test_each_service_is_a_deployment_with_probes_limits_config_and_the_image_store() -> None:
    deployments = resources("Deployment")

    assert set(deployments) == set(APPS)
    assert deployments["inference"]["spec"]["replicas"] == 2
    assert {"inference", "dashboard"} <= set(resources("Service"))
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"] == command(name)
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert set(container["resources"]) == {"requests", "limits"}
        assert container["envFrom"] == [{"secretRef": {"name": "yieldloop-credentials"}}]
        claims = {
            v["persistentVolumeClaim"]["claimName"]
            for v in pod["volumes"]
            if "persistentVolumeClaim" in v
        }
        maps = {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
        assert claims == ({"image-store"} if name in SERVICES else set()), name
        assert maps == {"yieldloop-config"}
    assert set(resources("StatefulSet")) == {"redis", "mlflow"}
    assert set(resources("PersistentVolumeClaim")) == {"image-store"}
    assert set(resources("Secret")) == {"yieldloop-credentials"}


def cluster_yaml() -> dict[str, Any]:
    config_map = resources("ConfigMap")["yieldloop-config"]
    tree: dict[str, Any] = yaml.safe_load(config_map["data"]["yieldloop.yaml"])
    return tree


def test_the_cluster_config_differs_from_the_shipped_one_only_in_addresses() -> None:
    shipped = flat(yaml.safe_load(DEFAULT_CONFIG.read_text()))
    shipped = {key: value for key, value in shipped.items() if not key.startswith("stack.")}
    cluster = flat(cluster_yaml())

    assert set(cluster) == set(shipped)
    changed = {key for key in shipped if cluster[key] != shipped[key]}
    assert changed <= CLUSTER_KEYS, changed - CLUSTER_KEYS


@pytest.mark.parametrize(
    "settings",
    [
        InferenceSettings,
        MonitorSettings,
        CuratorSettings,
        TrainerSettings,
        GatekeeperSettings,
        DashboardSettings,
    ],
)
def test_every_service_accepts_the_cluster_config(
    settings: type[CommonSettings], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "yieldloop.yaml"
    path.write_text(resources("ConfigMap")["yieldloop-config"]["data"]["yieldloop.yaml"])
    monkeypatch.setenv("YIELDLOOP_CONFIG", str(path))

    loaded = load_settings(settings)

    assert loaded.kafka_bootstrap == cluster_yaml()["kafka"]["bootstrap_servers"]
    assert loaded.redis_url == "redis://redis:6379/0"
