"""Settings: one YAML for the system, environment overrides, one clear line for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.settings import ConfigError, load_settings
from services.monitor.config import MonitorSettings


def test_the_shipped_yaml_gives_the_seed_defaults() -> None:
    settings = load_settings(MonitorSettings)
    assert settings.monitor.yield_threshold == 0.7
    assert settings.monitor.recent_window == 29
    assert settings.monitor.ok_labels == ["OK"]


def test_the_environment_overrides_the_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIELDLOOP_MONITOR__YIELD_THRESHOLD", "0.8")
    assert load_settings(MonitorSettings).monitor.yield_threshold == 0.8


def test_a_wrong_value_fails_with_one_line_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIELDLOOP_MONITOR__YIELD_THRESHOLD", "1.5")
    with pytest.raises(ConfigError) as failure:
        load_settings(MonitorSettings)
    message = str(failure.value)
    assert "monitor.yield_threshold" in message and "1.5" in message and "\n" not in message


def test_a_wrong_value_in_the_yaml_is_named_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("monitor:\n  recent_window: many\n")
    monkeypatch.setenv("YIELDLOOP_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"monitor\.recent_window"):
        load_settings(MonitorSettings)


def test_a_missing_config_file_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIELDLOOP_CONFIG", "/nowhere/yieldloop.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(MonitorSettings)
