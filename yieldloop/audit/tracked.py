"""What MLflow holds about an iteration: its runs (params, metrics, status, tags), registered
versions and their tags, and where the aliases stand now. Read-only."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from services.common.mlflow_registry import MlflowRegistry
from services.common.registry import CHALLENGER, CHAMPION, PREVIOUS, ModelNotFound, ModelVersion
from services.common.settings import CommonSettings

Json = dict[str, Any]
ALIASES = (CHAMPION, PREVIOUS, CHALLENGER)


@dataclass(frozen=True)
class Run:
    run_id: str
    name: str
    status: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]


@dataclass
class Tracked:
    client: MlflowClient
    registry: MlflowRegistry
    experiment: str
    _runs: dict[str, Run | None] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: CommonSettings) -> Tracked:
        uri, experiment = settings.mlflow_uri, settings.mlflow.experiment
        return cls(MlflowClient(uri), MlflowRegistry(uri, experiment=experiment), experiment)

    def run(self, run_id: str | None) -> Run | None:
        if not run_id:
            return None
        if run_id not in self._runs:
            try:
                got = self.client.get_run(run_id)
            except MlflowException:
                self._runs[run_id] = None
            else:
                self._runs[run_id] = Run(
                    run_id,
                    got.info.run_name or "",
                    got.info.status,
                    {k: v for k, v in got.data.tags.items() if not k.startswith("mlflow.")},
                    dict(got.data.params),
                    dict(got.data.metrics),
                )
        return self._runs[run_id]

    def runs_of(self, iteration_id: str) -> list[Run]:
        """Every run tagged with the iteration: curation, training, gate, and killed retries."""
        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            return []
        query = f"tags.iteration_id = '{iteration_id}'"
        runs = self.client.search_runs([found.experiment_id], query, max_results=100)
        return [r for r in (self.run(r.info.run_id) for r in runs) if r is not None]

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        return [(m.step, m.value) for m in self.client.get_metric_history(run_id, key)]

    def text(self, run_id: str, path: str) -> str | None:
        """A text artifact of the run (the gate's decision.txt), if it has one."""
        with tempfile.TemporaryDirectory() as tmp:
            try:
                return Path(self.client.download_artifacts(run_id, path, tmp)).read_text()
            except (MlflowException, OSError):
                return None

    def version(self, name: str, version: str | None) -> ModelVersion | None:
        if not version:
            return None
        try:
            return self.registry.get(name, version)
        except ModelNotFound:
            return None

    def aliases(self, name: str) -> dict[str, str | None]:
        """Which version each alias names now."""
        found = {alias: self.registry.by_alias(name, alias) for alias in ALIASES}
        return {alias: mv.version if mv else None for alias, mv in found.items()}
