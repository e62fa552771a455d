"""What the two referees say: about the iteration's recent images, and about the golden set they
are measured against (remembered per referee version, so it is judged once)."""

from __future__ import annotations

from schemas import ImageRef
from schemas.datasets import DatasetManifest, Split
from services.common.models import LoadedModel, fetch_images, ref
from services.common.registry import ModelVersion
from services.common.store import get_model
from services.curator.bootstrap import Curator
from services.curator.domain import RefereeView
from services.curator.selection import Vote


def votes(model: LoadedModel, images_of: list[ImageRef], c: Curator) -> list[Vote]:
    images = fetch_images(c.store, images_of, size=model.image_size)
    return [Vote(label, conf, margin) for label, conf, margin in model.votes(images)]


def golden_labels(base: ModelVersion, c: Curator) -> tuple[str, list[ImageRef], list[str]] | None:
    """The champion's golden set: its URI, images and true labels (None if it names none)."""
    uri = base.tags.get("golden_manifest_uri")
    if not uri:
        return None
    entries = get_model(c.store, uri, DatasetManifest).split(Split.GOLDEN)
    return uri, [ref(e) for e in entries], [e.label for e in entries]


def referee_views(
    refs: list[ImageRef], golden: tuple[str, list[ImageRef], list[str]] | None, c: Curator
) -> list[RefereeView]:
    views = []
    for name, model in zip(("B1", "B2"), c.referees(), strict=True):
        on_golden: list[Vote] = []
        if golden is not None:
            key = f"{model.version.name}:{model.version.version}:{golden[0]}"
            if key not in c.golden_votes:
                c.golden_votes[key] = votes(model, golden[1], c)
            on_golden = c.golden_votes[key]
        views.append(RefereeView(name, votes(model, refs, c), on_golden))
    return views
