"""The three real components of the local stack: Apache Kafka (KRaft), Redis and MLflow."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis

from services.common.settings import REPO_ROOT, CommonSettings
from yieldloop.stack.process import Daemon, StackError

DEPLOY = REPO_ROOT / "deploy" / "kafka"


@dataclass(frozen=True)
class Component:
    name: str
    settings: CommonSettings

    @property
    def daemon(self) -> Daemon:
        return Daemon(self.name, self.settings.stack.path(self.name))

    def argv(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """One-time set-up before the first start (idempotent)."""

    def env(self) -> dict[str, str] | None:
        """The environment it starts with (None: this process's)."""
        return None

    def ready(self) -> bool:
        raise NotImplementedError

    def up(self) -> bool:
        """Start unless running, then wait until it answers; True if it was started now."""
        started = self.daemon.pid() is None
        if started:
            self.prepare()
            self.daemon.start(self.argv(), env=self.env())
        self.daemon.wait_ready(self.ready, timeout=self.settings.stack.startup_timeout_s)
        return started


class Kafka(Component):
    @property
    def lib(self) -> Path:
        s = self.settings.stack
        return s.cache_dir.expanduser() / f"kafka-{s.kafka_version}" / "lib"

    def fetch_jars(self) -> None:
        copy_dependencies(DEPLOY / "pom.xml", self.lib, self.settings.stack.kafka_version)

    def java(self, *args: str) -> list[str]:
        log = [
            f"-Dlog4j2.configurationFile={DEPLOY / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.daemon.workdir / 'logs'}",
        ]
        return ["java", *log, "-cp", f"{self.lib}/*", *args]

    def prepare(self) -> None:
        self.fetch_jars()
        s, work = self.settings.stack, self.daemon.workdir
        data = work / "data"
        props = work / "server.properties"
        work.mkdir(parents=True, exist_ok=True)
        props.write_text(
            (DEPLOY / "server.properties.in")
            .read_text()
            .format(
                host=s.host,
                port=s.kafka_port,
                controller_port=s.kafka_controller_port,
                data_dir=data,
            )
        )
        if not (data / "meta.properties").exists():
            tool = self.java(
                "-Xmx256m",
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id(),
                "-c",
                str(props),
            )
            done = subprocess.run(tool, capture_output=True, text=True)
            if done.returncode != 0:
                raise StackError(f"kafka: formatting {data} failed:\n{done.stdout}{done.stderr}")

    def argv(self) -> list[str]:
        heap = self.settings.stack.kafka_heap
        return self.java(
            "-Xms256m",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            "kafka.Kafka",
            str(self.daemon.workdir / "server.properties"),
        )

    def ready(self) -> bool:
        if "Kafka Server started" not in self.daemon.log_tail(400):
            return False
        return port_open(self.settings.stack.host, self.settings.stack.kafka_port)


class Redis(Component):
    def argv(self) -> list[str]:
        server = shutil.which("redis-server")
        if server is None:
            raise StackError("redis: redis-server is not installed (make setup installs it)")
        s = self.settings.stack
        return [
            server,
            "--bind",
            s.host,
            "--port",
            str(s.redis_port),
            "--dir",
            str(self.daemon.workdir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
        ]

    def ready(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.settings.redis_url, socket_timeout=1).ping())
        except redis.RedisError:
            return False


class Mlflow(Component):
    def env(self) -> dict[str, str]:
        # The server's job runner and its consumers hold gigabytes; nothing here uses them.
        return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}

    def argv(self) -> list[str]:
        s, work = self.settings.stack, self.daemon.workdir
        return [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{work / 'mlflow.db'}",
            "--artifacts-destination",
            str(work / "artifacts"),
            "--host",
            s.host,
            "--port",
            str(s.mlflow_port),
            "--workers",
            "1",
        ]

    def ready(self) -> bool:
        return http_ok(f"{self.settings.mlflow_uri}/health")


def copy_dependencies(pom: Path, lib: Path, version: str) -> None:
    """Resolve a POM's runtime classpath from Maven Central into `lib`, once (a marker says the
    copy finished, so an interrupted download is fetched again)."""
    marker = lib / ".complete"
    if marker.exists():
        return
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise StackError("kafka needs Java 17+ and Maven on PATH (make setup installs them)")
    cmd = [
        "mvn",
        "-B",
        "-q",
        "-f",
        str(pom),
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={lib}",
        f"-Dkafka.version={version}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"Maven could not fetch {pom.name}'s jars:\n{done.stdout[-2000:]}")
    marker.touch()


def http_ok(url: str) -> bool:
    """The URL answers 200 within two seconds."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def cluster_id() -> str:
    """A KRaft cluster id: base64url of 16 random bytes, never starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def components(settings: CommonSettings) -> list[Component]:
    return [Kafka("kafka", settings), Redis("redis", settings), Mlflow("mlflow", settings)]


def component_named(settings: CommonSettings, name: str) -> Component:
    """One component of the stack by its name."""
    found = [c for c in components(settings) if c.name == name]
    if not found:
        known = ", ".join(c.name for c in components(settings))
        raise ValueError(f"no stack component {name!r}; known: {known}")
    return found[0]
