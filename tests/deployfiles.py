"""The deployment files as tests read them: the image's final stage, Compose's resolved model,
the Kubernetes manifests."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from services.common.settings import REPO_ROOT

SERVICES = ("inference", "monitor", "curator", "trainer", "gatekeeper")
APPS = (*SERVICES, "dashboard")  # what the image runs as long-lived processes


def command(app: str) -> list[str]:
    """The image's arguments for one app: `serve <service>`, or `dashboard`."""
    return ["serve", app] if app in SERVICES else [app]


K8S = REPO_ROOT / "deploy" / "k8s"


@dataclass
class Stage:
    """What a container of the image's last stage starts with."""

    base: str
    env: dict[str, str] = field(default_factory=dict)
    user: str = "root"
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined, parts = [], []
    for line in path.read_text().splitlines():
        if not parts and (not line.strip() or line.lstrip().startswith("#")):
            continue
        parts.append(line.rstrip().removesuffix("\\"))
        if not line.rstrip().endswith("\\"):
            joined.append(" ".join(p.strip() for p in parts))
            parts = []
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in joined]


def final_stage(path: Path = REPO_ROOT / "Dockerfile") -> Stage:
    args: dict[str, str] = {}
    stage = Stage(base="")
    for word, rest in instructions(path):
        if word == "ARG" and "=" in rest and not stage.base:
            key, value = rest.split("=", 1)
            args[key] = value
        elif word == "FROM":
            image = rest.split()[0]
            stage = Stage(base=args.get(image.strip("${}"), image))
        elif word == "ENV":
            stage.env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
        elif word == "USER":
            stage.user = rest.strip()
        elif word == "ENTRYPOINT":
            stage.entrypoint = json.loads(rest)
        elif word == "CMD":
            stage.cmd = json.loads(rest)
        elif word == "HEALTHCHECK":
            stage.healthcheck = json.loads(rest.split(" CMD ", 1)[1])
    return stage


def compose_config(*profiles: str) -> dict[str, Any]:
    """The model Compose itself resolves (anchors, merges, defaults of ${VARIABLES})."""
    command = [str(Path(sys.executable).parent / "docker-compose"), "-f", "docker-compose.yml"]
    for profile in profiles:
        command += ["--profile", profile]
    done = subprocess.run(
        [*command, "config", "--format", "json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},  # the defaults, whatever this shell has set
    )
    model: dict[str, Any] = json.loads(done.stdout)
    return model


def manifests() -> dict[str, list[dict[str, Any]]]:
    """Every Kubernetes resource, by file name."""
    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted(K8S.glob("*.yaml"))
    }


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for docs in manifests().values()
        for doc in docs
        if doc.get("kind") == kind
    }
