"""Experiment tracking (MLflow runs): parameters, metrics and documents of each job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag

from services.common.settings import CommonSettings


def experiment_id(client: MlflowClient, name: str) -> str:
    """The experiment's id, created on first use."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(client.create_experiment(name))


RunEnd = Literal["FINISHED", "FAILED", "KILLED"]


class Tracking(Protocol):
    def start_run(self, name: str, *, tags: dict[str, str]) -> str: ...
    def log_params(self, run_id: str, params: dict[str, object]) -> None: ...
    def log_metric(self, run_id: str, key: str, value: float, *, step: int = 0) -> None: ...
    def log_text(self, run_id: str, text: str, path: str) -> None: ...
    def log_dataset(
        self, run_id: str, *, name: str, digest: str, uri: str, context: str
    ) -> None: ...
    def end_run(self, run_id: str, *, status: RunEnd = "FINISHED") -> None: ...
    def running(self, tags: dict[str, str]) -> list[str]:
        """Runs still RUNNING with all of these tags (a job that was killed leaves one)."""


class MlflowTracking:
    def __init__(self, tracking_uri: str, *, experiment: str) -> None:
        self.client = MlflowClient(tracking_uri)
        self.experiment = experiment

    def start_run(self, name: str, *, tags: dict[str, str]) -> str:
        run = self.client.create_run(
            experiment_id(self.client, self.experiment), run_name=name, tags=tags
        )
        return str(run.info.run_id)

    def log_params(self, run_id: str, params: dict[str, object]) -> None:
        for key, value in params.items():
            self.client.log_param(run_id, key, value)

    def log_metric(self, run_id: str, key: str, value: float, *, step: int = 0) -> None:
        self.client.log_metric(run_id, key, value, step=step)

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self.client.log_text(run_id, text, path)

    def log_dataset(self, run_id: str, *, name: str, digest: str, uri: str, context: str) -> None:
        """The dataset version as the run's input: MLflow shows it in the run's lineage."""
        dataset = Dataset(name=name, digest=digest[:36], source_type="image-store", source=uri)
        tag = InputTag(key="mlflow.data.context", value=context)
        self.client.log_inputs(run_id, datasets=[DatasetInput(dataset, tags=[tag])])

    def end_run(self, run_id: str, *, status: RunEnd = "FINISHED") -> None:
        self.client.set_terminated(run_id, status)

    def running(self, tags: dict[str, str]) -> list[str]:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            return []
        clauses = [f"tags.{key} = '{value}'" for key, value in tags.items()]
        query = " and ".join([*clauses, "attributes.status = 'RUNNING'"])
        return [r.info.run_id for r in self.client.search_runs([found.experiment_id], query)]


@dataclass
class InMemoryTracking:
    runs: dict[str, dict[str, object]] = field(default_factory=dict)

    def start_run(self, name: str, *, tags: dict[str, str]) -> str:
        run_id = f"run-{len(self.runs) + 1}"
        self.runs[run_id] = {"name": name, "tags": tags, "params": {}, "metrics": [], "texts": {}}
        return run_id

    def log_params(self, run_id: str, params: dict[str, object]) -> None:
        self.runs[run_id]["params"] = {**self.runs[run_id]["params"], **params}  # type: ignore[dict-item]

    def log_metric(self, run_id: str, key: str, value: float, *, step: int = 0) -> None:
        self.runs[run_id]["metrics"].append((key, value, step))  # type: ignore[attr-defined]

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self.runs[run_id]["texts"][path] = text  # type: ignore[index]

    def log_dataset(self, run_id: str, *, name: str, digest: str, uri: str, context: str) -> None:
        self.runs[run_id]["texts"][f"input:{context}"] = f"{name} {digest} {uri}"  # type: ignore[index]

    def end_run(self, run_id: str, *, status: RunEnd = "FINISHED") -> None:
        self.runs[run_id]["status"] = status

    def running(self, tags: dict[str, str]) -> list[str]:
        return [
            run_id
            for run_id, run in self.runs.items()
            if "status" not in run and tags.items() <= run["tags"].items()  # type: ignore[attr-defined]
        ]


def close_interrupted(tracking: Tracking, tags: dict[str, str]) -> list[str]:
    """Runs a killed job left RUNNING are ended as KILLED before the job starts again."""
    stale = tracking.running(tags)
    for run_id in stale:
        tracking.end_run(run_id, status="KILLED")
    return stale


def tracking_from(settings: CommonSettings) -> Tracking:
    return MlflowTracking(settings.mlflow_uri, experiment=settings.mlflow.experiment)
