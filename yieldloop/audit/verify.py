"""`yieldloop audit --verify`: every link of an iteration's story must lead to something that
exists and matches what the facts claim — the stored manifest and its hash, the runs and the
registered version with the tags the events name, the weights and their sha256."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas.datasets import DatasetManifest
from services.common.registry import IntegrityError
from services.common.store import BlobCorrupt, BlobNotFound, ImageStore, digest_in
from yieldloop.audit.tracked import Tracked

Json = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    iteration_id: str
    link: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.iteration_id}  {self.link}: {self.detail}"


@dataclass(frozen=True)
class Checker:
    tracked: Tracked
    store: ImageStore
    model_name: str

    def check(self, story: Json, *, newest_approved: bool = False) -> list[Finding]:
        iteration_id = story["iteration_id"]
        checks: list[Callable[[Json], Iterator[tuple[str, bool, str]]]] = [
            self._trigger,
            self._dataset,
            self._training,
            self._decision,
        ]
        found = [Finding(iteration_id, *f) for check in checks for f in check(story)]
        if newest_approved:
            found += [Finding(iteration_id, *f) for f in self._aliases(story)]
        return found

    def _trigger(self, story: Json) -> Iterator[tuple[str, bool, str]]:
        trigger = story["trigger"]
        if trigger is None:
            return
        missing = [i["uri"] for i in trigger["images"] if not self._blob_ok(i["uri"], i["sha256"])]
        yield (
            "trigger.images",
            not missing,
            f"{len(trigger['images']) - len(missing)} of {len(trigger['images'])} images "
            "stored and matching their sha256" + (f"; first bad: {missing[0]}" if missing else ""),
        )

    def _blob_ok(self, uri: str | None, sha: str) -> bool:
        if uri is None or digest_in(uri) != sha:
            return False
        try:
            self.store.get(uri)
        except (BlobNotFound, BlobCorrupt):
            return False
        return True

    def _dataset(self, story: Json) -> Iterator[tuple[str, bool, str]]:
        dataset = story["dataset"]
        if dataset is None:
            return
        yield from self._manifest(dataset)
        run = self.tracked.run(dataset["mlflow_run_id"])
        yield (
            "dataset.run",
            *_tags_match(run.tags if run else None, story["iteration_id"], stage="curate"),
        )

    def _manifest(self, dataset: Json) -> Iterator[tuple[str, bool, str]]:
        uri, claimed = dataset["manifest_uri"], dataset["manifest_sha256"]
        try:
            data = self.store.get(uri)
        except (BlobNotFound, BlobCorrupt) as exc:
            yield "dataset.manifest", False, f"{exc} (events say sha256 {claimed})"
            return
        actual = hashlib.sha256(data).hexdigest()
        if actual != claimed:
            yield "dataset.manifest", False, f"{uri} hashes to {actual}, events say {claimed}"
            return
        try:
            manifest = DatasetManifest.model_validate_json(data)
        except ValidationError as exc:
            yield "dataset.manifest", False, f"{uri} is not a dataset manifest: {exc}"
            return
        counts = manifest.counts()
        same = counts == dataset["split_sizes"]
        detail = f"sha256 {actual[:12]} matches; splits {counts}"
        if not same:
            detail += f", but events say {dataset['split_sizes']}"
        yield "dataset.manifest", same, detail
        previous = dataset.get("previous") or {}
        if manifest.parent_sha256 is not None and previous.get("manifest_sha256"):
            parent_ok = manifest.parent_sha256 == previous["manifest_sha256"]
            yield (
                "dataset.parent",
                parent_ok,
                f"merged over {manifest.parent_sha256[:12]}, the dataset of "
                f"v{previous['version']} is {previous['manifest_sha256'][:12]}",
            )

    def _training(self, story: Json) -> Iterator[tuple[str, bool, str]]:
        training, dataset = story["training"], story["dataset"]
        if training is None:
            return
        if dataset is not None:
            named, made = training["manifest_sha256"], dataset["manifest_sha256"]
            detail = f"candidate names dataset {named[:12]}, curation made {made[:12]}"
            yield "training.dataset", named == made, detail
        wanted = {"manifest_sha256": training["manifest_sha256"]}
        if training["base_version"]:
            wanted["parent_version"] = training["base_version"]
        run = self.tracked.run(training["mlflow_run_id"])
        yield (
            "training.run",
            *_tags_match(run.tags if run else None, story["iteration_id"], stage="train", **wanted),
        )
        yield from self._version(story, training, wanted)

    def _version(
        self, story: Json, training: Json, wanted: dict[str, str]
    ) -> Iterator[tuple[str, bool, str]]:
        mv = self.tracked.version(training["model_name"], training["version"])
        if mv is None:
            yield "training.version", False, f"v{training['version']} is not registered"
            return
        claimed = (
            {**wanted, "manifest_uri": story["dataset"]["manifest_uri"]}
            if story["dataset"]
            else wanted
        )
        ok, detail = _tags_match(mv.tags, story["iteration_id"], **claimed)
        if ok and mv.run_id != training["mlflow_run_id"]:
            ok = False
            detail = f"registered from run {mv.run_id}, events say {training['mlflow_run_id']}"
        yield "training.version", ok, detail
        try:
            weights = self.tracked.registry.weights(mv)
        except IntegrityError as exc:
            yield "training.weights", False, str(exc)
        else:
            sha = hashlib.sha256(weights).hexdigest()
            yield "training.weights", True, f"sha256 {sha[:12]} matches the version's tag"

    def _decision(self, story: Json) -> Iterator[tuple[str, bool, str]]:
        decision, training = story["decision"], story["training"]
        if decision is not None and training is not None:
            decided, trained = decision["version"], training["version"]
            detail = f"decided on v{decided}, the candidate was v{trained}"
            yield "decision.version", decided == trained, detail
        approved = decision["version"] if decision is not None and decision["approved"] else None
        for d in story["deployments"]:
            detail = f"{d['replica_id']} serves v{d['version']} since {d['loaded_at']}"
            if d["version"] != approved:
                detail += ", but that version was not approved in this iteration"
            yield "deployment", d["version"] == approved, detail

    def _aliases(self, story: Json) -> Iterator[tuple[str, bool, str]]:
        version = story["decision"]["version"]
        now = self.tracked.aliases(self.model_name).get("champion")
        yield "aliases", now == version, f"champion is v{now}; the newest approval is v{version}"


def _tags_match(tags: dict[str, str] | None, iteration_id: str, **wanted: str) -> tuple[bool, str]:
    if tags is None:
        return False, "does not exist in MLflow"
    wanted = {"iteration_id": iteration_id, **wanted}
    wrong = {k: (tags.get(k), v) for k, v in wanted.items() if tags.get(k) != v}
    if wrong:
        return False, "; ".join(
            f"tag {k} is {g!r}, events say {w!r}" for k, (g, w) in wrong.items()
        )
    return True, "exists with tags " + ", ".join(f"{k}={v[:16]}" for k, v in wanted.items())
