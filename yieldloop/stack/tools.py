"""Apache Kafka's own command-line tools beside the local broker (same version), for looking at
topics, consumer groups and their lag."""

from __future__ import annotations

import shlex
from pathlib import Path

from services.common.settings import CommonSettings
from yieldloop.stack.components import DEPLOY, copy_dependencies

TOPICS = "org.apache.kafka.tools.TopicCommand"
GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
CONSOLE = "org.apache.kafka.tools.consumer.ConsoleConsumer"


def lib(settings: CommonSettings) -> Path:
    """A folder of its own: the broker's cache may be complete already without the tools."""
    s = settings.stack
    return s.cache_dir.expanduser() / f"kafka-tools-{s.kafka_version}" / "lib"


def fetch(settings: CommonSettings) -> None:
    copy_dependencies(DEPLOY / "tools-pom.xml", lib(settings), settings.stack.kafka_version)


def command(settings: CommonSettings, main: str, *args: str) -> list[str]:
    log = f"-Dlog4j2.configurationFile={DEPLOY / 'log4j2.properties'}"
    bootstrap = ["--bootstrap-server", settings.kafka_bootstrap]
    return ["java", "-Xmx256m", log, "-cp", f"{lib(settings)}/*", main, *bootstrap, *args]


def hints(settings: CommonSettings) -> list[str]:
    """How to look at the stack's Kafka with its own tools, as lines to paste in a shell."""

    def line(what: str, main: str, *args: str) -> str:
        return f"  {what}:\n    {shlex.join(command(settings, main, *args))}"

    return [
        "Kafka's own tools (see the README for more):",
        line("list topics", TOPICS, "--list"),
        line("consumer groups and their lag", GROUPS, "--describe", "--all-groups"),
        line(
            "read a topic from the start",
            CONSOLE,
            "--topic",
            "yieldloop.retrain.requested",
            "--from-beginning",
            "--property",
            "print.key=true",
        ),
    ]
