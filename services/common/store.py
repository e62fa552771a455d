"""The image store: content-addressed blobs (`sha256/ab/cd/<hash>`) behind one small port."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import unquote, urlparse

from pydantic import BaseModel

from schemas import ImageRef

M = TypeVar("M", bound=BaseModel)


class BlobNotFound(KeyError):
    pass


class BlobCorrupt(ValueError):
    pass


class ImageStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store a blob (idempotent) and return its URI."""

    def get(self, uri: str) -> bytes:
        """The blob's bytes, checked against the hash its URI names."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob_key(digest: str) -> str:
    return f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"


def digest_in(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def verified(data: bytes, uri: str) -> bytes:
    if sha256_of(data) != digest_in(uri):
        raise BlobCorrupt(f"{uri}: content does not match its hash")
    return data


class LocalImageStore:
    """Blobs under a local directory; URIs are `file://` paths inside it and nowhere else."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        # A key is hex digits and slashes, which a URI takes as they are: the root's URI and
        # the key make the blob's URI without building a Path per image.
        self._root_uri = self.root.as_uri().rstrip("/")

    def put(self, data: bytes) -> str:
        key = blob_key(sha256_of(data))
        path = os.path.join(self.root, key)
        if not os.path.exists(path):
            folder = os.path.dirname(path)
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)  # atomic: readers never see half a blob
        return f"{self._root_uri}/{key}"

    def get(self, uri: str) -> bytes:
        parsed = urlparse(uri)
        path = Path(unquote(parsed.path)).resolve()  # a root's space or accent is quoted
        if not path.is_relative_to(self.root) or parsed.scheme != "file":
            raise BlobNotFound(f"{uri} is not in this store ({self.root})")
        try:
            return verified(path.read_bytes(), uri)
        except FileNotFoundError:
            raise BlobNotFound(uri) from None


class InMemoryImageStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        uri = f"memory://{blob_key(sha256_of(data))}"
        self.blobs[uri] = data
        return uri

    def get(self, uri: str) -> bytes:
        try:
            return verified(self.blobs[uri], uri)
        except KeyError:
            raise BlobNotFound(uri) from None


def image_bytes(store: ImageStore, ref: ImageRef) -> bytes:
    """An image's bytes whether it travelled inline or as a claim check."""
    if ref.data is not None:
        return ref.data
    assert ref.uri is not None
    return store.get(ref.uri)


def put_model(store: ImageStore, model: BaseModel) -> tuple[str, str]:
    """Store a pydantic document (a dataset manifest); returns (uri, sha256)."""
    data = model.model_dump_json().encode()
    return store.put(data), sha256_of(data)


def get_model(store: ImageStore, uri: str, as_type: type[M]) -> M:
    return as_type.model_validate_json(store.get(uri))
