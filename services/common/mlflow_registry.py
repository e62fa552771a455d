"""The model registry on a real MLflow tracking server."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.exceptions import MlflowException, RestException

from services.common.registry import (
    WEIGHTS,
    ModelNotFound,
    ModelVersion,
    checked,
    write_model_dir,
)
from services.common.tracking import experiment_id

_NOT_FOUND = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"})


class MlflowRegistry:
    def __init__(self, tracking_uri: str, *, experiment: str) -> None:
        self.uri = tracking_uri
        self.client = MlflowClient(tracking_uri)
        self.experiment = experiment

    def register(
        self,
        name: str,
        weights: bytes,
        *,
        arch: str,
        classes: tuple[str, ...],
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        if run_id is None:
            experiment = experiment_id(self.client, self.experiment)
            run_id = self.client.create_run(experiment).info.run_id
        folder = write_model_dir(weights, arch=arch, classes=classes)
        try:
            self.client.log_artifacts(run_id, str(folder), "model")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self._ensure_model(name)
        sha = hashlib.sha256(weights).hexdigest()
        all_tags = {**(tags or {}), "arch": arch, "classes": ",".join(classes), "sha256": sha}
        artifact_uri = self.client.get_run(run_id).info.artifact_uri
        mv = self.client.create_model_version(
            name, source=f"{artifact_uri}/model", run_id=run_id, tags=all_tags
        )
        return self.get(name, str(mv.version))

    def _ensure_model(self, name: str) -> None:
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def get(self, name: str, version: str) -> ModelVersion:
        try:
            return _version(self.client.get_model_version(name, version))
        except RestException as exc:
            if exc.error_code not in _NOT_FOUND:
                raise  # the server failed: transient, not a missing version
            raise ModelNotFound(f"{name} v{version}: {exc.error_code}") from None

    def find(self, name: str, tags: dict[str, str]) -> ModelVersion | None:
        clauses = [f"name = '{name}'", *(f"tags.{k} = '{v}'" for k, v in tags.items())]
        found = self.client.search_model_versions(" and ".join(clauses))
        newest = max(found, key=lambda mv: int(mv.version), default=None)
        return None if newest is None else _version(newest)

    def by_alias(self, name: str, alias: str) -> ModelVersion | None:
        try:
            return _version(self.client.get_model_version_by_alias(name, alias))
        except RestException as exc:
            if exc.error_code not in _NOT_FOUND:
                raise
            return None

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        try:
            self.client.delete_registered_model_alias(name, alias)
        except RestException as exc:
            if exc.error_code not in _NOT_FOUND:
                raise

    def set_tag(self, name: str, version: str, key: str, value: str | None) -> None:
        if value is None:
            try:
                self.client.delete_model_version_tag(name, version, key)
            except RestException as exc:
                if exc.error_code not in _NOT_FOUND:
                    raise
        else:
            self.client.set_model_version_tag(name, version, key, value)

    def weights(self, mv: ModelVersion) -> bytes:
        source = self.client.get_model_version(mv.name, mv.version).source
        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{source}/{WEIGHTS}", dst_path=tmp, tracking_uri=self.uri
            )
            return checked(Path(path).read_bytes(), mv)


def _version(mv: MlflowVersion) -> ModelVersion:
    tags = dict(mv.tags or {})
    return ModelVersion(
        name=str(mv.name),
        version=str(mv.version),
        arch=tags["arch"],
        classes=tuple(tags["classes"].split(",")),
        sha256=tags["sha256"],
        run_id=mv.run_id,
        tags=tags,
    )
