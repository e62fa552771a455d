"""Settings of the dashboard (`dashboard:` in config/yieldloop.yaml, YIELDLOOP_DASHBOARD__*)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import Listens
from services.monitor.config import MonitorSettings


class DashboardConfig(Listens):
    port: int = Field(8005, ge=1, le=65535)
    reports_per_line: int = Field(360, ge=2)  # yield reports drawn per line (the latest)
    refresh_s: float = Field(1.0, gt=0)  # how often the page asks for fresh figures
    aliases_every_s: float = Field(3.0, gt=0)  # how often MLflow is asked where aliases stand
    page_lookback_s: float = Field(180, ge=0)  # history read before an iteration for its page


class DashboardSettings(MonitorSettings):
    """The monitor's settings come along: an audit page draws yield as the monitor counts it."""

    dashboard: DashboardConfig = DashboardConfig()
