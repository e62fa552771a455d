"""Settings shared by every service: one YAML file for the whole system, environment overrides.

Precedence: arguments > environment (`YIELDLOOP_<SECTION>__<KEY>`) > the YAML file > defaults.
The YAML file is `config/yieldloop.yaml` unless `YIELDLOOP_CONFIG` names another.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "config" / "yieldloop.yaml"
ENV_PREFIX = "YIELDLOOP_"


class ConfigError(Exception):
    """A setting is wrong; the message is one line naming the key and what was expected."""


class StackSettings(BaseModel):
    state_dir: Path = Path(".yieldloop")
    cache_dir: Path = Path("~/.cache/yieldloop")
    host: str = "127.0.0.1"
    kafka_port: int = Field(19092, ge=1024, le=65535)
    kafka_controller_port: int = Field(19093, ge=1024, le=65535)
    redis_port: int = Field(16379, ge=1024, le=65535)
    mlflow_port: int = Field(15000, ge=1024, le=65535)
    kafka_version: str = "4.4.0"
    kafka_heap: str = "512m"
    startup_timeout_s: float = Field(60, gt=0)

    def path(self, *parts: str) -> Path:
        return (REPO_ROOT / self.state_dir).joinpath(*parts).resolve()


class KafkaSettings(BaseModel):
    bootstrap_servers: str | None = None  # None: the local stack's broker
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    partitions: int = Field(3, ge=1)
    replication_factor: int = Field(1, ge=1)
    stream_retention_ms: int = Field(7 * 24 * 3600 * 1000, ge=-1)
    stream_retention_bytes: int = Field(1 << 30, ge=-1)
    inline_image_limit: int = Field(256 * 1024, ge=0)


class RedisSettings(BaseModel):
    url: str | None = None  # None: the local stack's server


class MlflowSettings(BaseModel):
    tracking_uri: str | None = None  # None: the local stack's server
    experiment: str = "yieldloop"
    model_name: str = "inspection"
    referee_names: tuple[str, str] = ("referee-b1", "referee-b2")


class StoreSettings(BaseModel):
    root: Path | None = None  # None: <state_dir>/store


class Backoff(BaseModel):
    """Delays between attempts after a transient fault: initial, doubled each time up to a cap,
    within a total budget. After the budget the record is handed back uncommitted and fetched
    again."""

    initial_s: float = Field(0.2, gt=0)
    factor: float = Field(2.0, ge=1)
    max_delay_s: float = Field(10.0, gt=0)
    max_elapsed_s: float = Field(120.0, gt=0)

    def delays(self) -> Iterator[float]:
        delay = self.initial_s
        while True:
            yield min(delay, self.max_delay_s)
            delay *= self.factor


class FaultSettings(BaseModel):
    """Fault injection for `yieldloop chaos` only: the process kills itself at a named point,
    given here or, when `enabled`, armed at run time through `POST /faults`."""

    enabled: bool = False
    crash_at: str | None = None  # e.g. "trainer.after_effect"


class Listens(BaseModel):
    """Where a service answers HTTP: health, metrics (and REST for inference)."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore", frozen=True
    )

    stack: StackSettings = StackSettings()
    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    mlflow: MlflowSettings = MlflowSettings()
    store: StoreSettings = StoreSettings()
    retry: Backoff = Backoff()
    faults: FaultSettings = FaultSettings()
    # Admin actions (reload, rollback, deploy, review answers) need it as a Bearer token;
    # with none set they are refused (403), never open.
    admin_token: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml = YamlConfigSettingsSource(settings_cls, yaml_file=config_path())
        return init_settings, env_settings, yaml

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap_servers or f"{self.stack.host}:{self.stack.kafka_port}"

    @property
    def redis_url(self) -> str:
        return self.redis.url or f"redis://{self.stack.host}:{self.stack.redis_port}/0"

    @property
    def mlflow_uri(self) -> str:
        return self.mlflow.tracking_uri or f"http://{self.stack.host}:{self.stack.mlflow_port}"

    @property
    def store_root(self) -> Path:
        return (
            self.store.root.expanduser().resolve() if self.store.root else self.stack.path("store")
        )


def config_path() -> Path:
    return Path(os.environ.get(f"{ENV_PREFIX}CONFIG", DEFAULT_CONFIG))


S = TypeVar("S", bound=CommonSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Read settings, turning the first validation error into one readable line."""
    path = config_path()
    if f"{ENV_PREFIX}CONFIG" in os.environ and not path.is_file():
        raise ConfigError(f"config file {path} does not exist ({ENV_PREFIX}CONFIG)")
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe(exc, path)) from None


def describe(exc: ValidationError, path: Path) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    env = ENV_PREFIX + "__".join(str(part) for part in first["loc"]).upper()
    got = first.get("input")
    return f"invalid setting {key}={got!r}: {first['msg']} (from {path.name} or {env})"
