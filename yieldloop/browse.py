"""`yieldloop browse`: the broker in a terminal UI, without Docker. kaskade (MIT, released
steadily since 2021) shows topics, partitions, consumer groups with their lag, and a topic's
messages as JSON. It lives in a virtual environment of its own in the cache, installed on first
use, and connects with the same address and security settings as the services."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from services.common.settings import CommonSettings

KASKADE = "kaskade==5.1.0"


def tool_dir(settings: CommonSettings) -> Path:
    return settings.stack.cache_dir.expanduser() / KASKADE.replace("==", "-")


def installed(settings: CommonSettings, *, say: Callable[[str], None] = print) -> Path:
    """kaskade's executable, installed now unless it is already."""
    home = tool_dir(settings)
    marker = home / ".complete"
    if not marker.exists():
        say(f"browse: installing {KASKADE} into {home} (once; about 200 MB)")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True)
        pip = [str(home / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, KASKADE], check=True)
        marker.touch()
    return home / "bin" / "kaskade"


def client_config(settings: CommonSettings) -> str:
    """kaskade's [kafka] section (librdkafka names); the password stays out of the argv."""
    k = settings.kafka
    lines = ["[kafka]", f"bootstrap.servers = {settings.kafka_bootstrap}"]
    lines.append(f"security.protocol = {k.security_protocol}")
    if k.sasl_mechanism is not None:
        password = k.sasl_password.get_secret_value() if k.sasl_password else ""
        lines += [
            f"sasl.mechanism = {k.sasl_mechanism}",
            f"sasl.username = {k.sasl_username or ''}",
            f"sasl.password = {password}",
        ]
    return "\n".join(lines) + "\n"


def argv(executable: Path, config: Path, topic: str | None) -> list[str]:
    if topic is None:
        return [str(executable), "admin", "--config-file", str(config)]
    return [
        *(str(executable), "consumer", "--config-file", str(config)),
        *("-t", topic, "--earliest", "-k", "string", "-v", "json"),
    ]


def browse(settings: CommonSettings, *, topic: str | None) -> None:
    """Replace this process with kaskade, which owns the terminal from then on. Its settings
    reach it through a pipe: no file with a password is left behind, none shows in `ps`."""
    executable = installed(settings)
    read, write = os.pipe()
    os.write(write, client_config(settings).encode())
    os.close(write)
    os.set_inheritable(read, True)
    os.execv(executable, argv(executable, Path(f"/dev/fd/{read}"), topic))
