"""Rules of the inference service: the swappable model slot and safe zip unpacking."""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Generic, TypeVar

M = TypeVar("M")


class ModelSlot(Generic[M]):
    """Holds the serving model; a swap is one reference assignment, so a request sees either the
    old model or the new one, never a half-loaded one."""

    def __init__(self, model: M) -> None:
        self._model = model

    @property
    def current(self) -> M:
        return self._model

    def swap(self, model: M) -> M:
        old, self._model = self._model, model
        return old


def newer(version: str, *, than: str | None) -> bool:
    """Registered versions count up, so a replica only ever swaps forward: an approval that
    arrives late, or twice, never takes it back to an older model."""
    return than is None or int(version) > int(than)


class UnsafeArchive(ValueError):
    pass


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int
    max_unpacked_bytes: int
    max_entry_bytes: int


def zip_members(data: bytes, limits: ZipLimits) -> list[tuple[str, bytes]]:
    """The files of a zip, refusing traversal paths and anything over the limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UnsafeArchive(f"not a zip archive: {exc}") from None
    files = [info for info in archive.infolist() if not info.is_dir()]
    if len(files) > limits.max_entries:
        raise UnsafeArchive(f"{len(files)} entries, over the limit of {limits.max_entries}")
    if sum(info.file_size for info in files) > limits.max_unpacked_bytes:
        raise UnsafeArchive(f"unpacks to more than {limits.max_unpacked_bytes} bytes")
    return [(_safe_name(info), _read(archive, info, limits)) for info in files]


def _safe_name(info: zipfile.ZipInfo) -> str:
    path = PurePosixPath(info.filename.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or info.filename.startswith(("/", "\\")):
        raise UnsafeArchive(f"entry {info.filename!r} points outside the archive")
    return str(path)


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits) -> bytes:
    # Read at most the limit, whatever the header claims: headers can lie about sizes.
    try:
        with archive.open(info) as member:
            data = member.read(limits.max_entry_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise UnsafeArchive(f"entry {info.filename!r} is damaged: {exc}") from None
    if len(data) > limits.max_entry_bytes:
        raise UnsafeArchive(f"entry {info.filename!r} is over {limits.max_entry_bytes} bytes")
    return data
