"""The model registry port: registered versions, aliases, and weights checked by sha256."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

CHAMPION, PREVIOUS, CHALLENGER = "champion", "previous", "challenger"
WITHDRAWN = "withdrawn"  # tag of a version rolled back from: no approval serves it again
WEIGHTS, CARD = "weights.pt", "model.json"


class ModelNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    arch: str
    classes: tuple[str, ...]
    sha256: str
    run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


class ModelRegistry(Protocol):
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
        """Store the weights as a new version of `name`."""

    def get(self, name: str, version: str) -> ModelVersion: ...

    def find(self, name: str, tags: dict[str, str]) -> ModelVersion | None:
        """The newest version of `name` carrying all of these tags, if any."""

    def by_alias(self, name: str, alias: str) -> ModelVersion | None: ...

    def set_alias(self, name: str, alias: str, version: str) -> None: ...

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove the alias if it is set."""

    def set_tag(self, name: str, version: str, key: str, value: str | None) -> None:
        """Tag a version; None removes the tag."""

    def weights(self, mv: ModelVersion) -> bytes:
        """The version's weights, refused unless they match its recorded sha256."""


class IntegrityError(ValueError):
    pass


def checked(data: bytes, mv: ModelVersion) -> bytes:
    if hashlib.sha256(data).hexdigest() != mv.sha256:
        raise IntegrityError(f"{mv.name} v{mv.version}: weights do not match the recorded sha256")
    return data


def promote(registry: ModelRegistry, name: str, version: str) -> str | None:
    """Make `version` the champion; the old champion becomes `previous` (instant rollback)."""
    old = registry.by_alias(name, CHAMPION)
    if old is not None and old.version != version:
        registry.set_alias(name, PREVIOUS, old.version)
    registry.set_alias(name, CHAMPION, version)
    return None if old is None else old.version


class InMemoryRegistry:
    def __init__(self) -> None:
        self.versions: dict[tuple[str, str], tuple[ModelVersion, bytes]] = {}
        self.aliases: dict[tuple[str, str], str] = {}

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
        version = str(1 + sum(1 for n, _ in self.versions if n == name))
        sha = hashlib.sha256(weights).hexdigest()
        mv = ModelVersion(name, version, arch, tuple(classes), sha, run_id, dict(tags or {}))
        self.versions[(name, version)] = (mv, weights)
        return mv

    def get(self, name: str, version: str) -> ModelVersion:
        try:
            return self.versions[(name, version)][0]
        except KeyError:
            raise ModelNotFound(f"{name} v{version}") from None

    def find(self, name: str, tags: dict[str, str]) -> ModelVersion | None:
        found = [
            mv
            for (n, _), (mv, _) in self.versions.items()
            if n == name and tags.items() <= mv.tags.items()
        ]
        return max(found, key=lambda mv: int(mv.version), default=None)

    def by_alias(self, name: str, alias: str) -> ModelVersion | None:
        version = self.aliases.get((name, alias))
        return None if version is None else self.get(name, version)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.get(name, version)
        self.aliases[(name, alias)] = version

    def delete_alias(self, name: str, alias: str) -> None:
        self.aliases.pop((name, alias), None)

    def set_tag(self, name: str, version: str, key: str, value: str | None) -> None:
        mv, weights = self.versions[(name, version)]
        tags = {k: v for k, v in mv.tags.items() if k != key}
        if value is not None:
            tags[key] = value
        self.versions[(name, version)] = (replace(mv, tags=tags), weights)

    def weights(self, mv: ModelVersion) -> bytes:
        return checked(self.versions[(mv.name, mv.version)][1], mv)


def card(arch: str, classes: tuple[str, ...], sha256: str) -> str:
    """The JSON card stored beside the weights: how to rebuild the module that loads them."""
    return json.dumps({"arch": arch, "classes": list(classes), "sha256": sha256}, indent=1)


def write_model_dir(weights: bytes, *, arch: str, classes: tuple[str, ...]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="yieldloop-model-"))
    (folder / WEIGHTS).write_bytes(weights)
    (folder / CARD).write_text(card(arch, classes, hashlib.sha256(weights).hexdigest()))
    return folder
