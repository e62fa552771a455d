"""Dataset versions: manifests of image hashes, labels, splits and sources."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Split(StrEnum):
    TRAIN = "train"
    VAL = "val"
    HOLDOUT = "holdout"  # recent curated samples kept out of training, for the gate
    GOLDEN = "golden"  # the fixed test set


class ManifestEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    uri: str
    label: str
    split: Split
    source: str  # "base", "iteration:<id>", "golden", ...


class DatasetManifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    classes: list[str] = Field(min_length=2)
    parent_sha256: str | None = None
    entries: list[ManifestEntry]

    def split(self, split: Split) -> list[ManifestEntry]:
        return [e for e in self.entries if e.split == split]

    def counts(self) -> dict[str, int]:
        return {s.value: n for s in Split if (n := len(self.split(s)))}
