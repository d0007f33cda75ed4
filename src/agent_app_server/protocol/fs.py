"""Files and search: the ``fs/*`` methods, ``fs/changed`` and ``fuzzyFileSearch``.

Owns: ``<Method>Params`` / ``<Method>Response`` for the host-filesystem methods, the
``fs/changed`` notification body, and the fuzzy file search request and results (the stable,
one-shot ``fuzzyFileSearch``; the experimental session variants are not modelled). Paths the
reference types as ``AbsolutePathBuf`` must be absolute here too: a relative one fails params
validation (-32602 naming the field) instead of being resolved against some directory.
Imports ``_base`` and ``common``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`), as in methods.py.
import os
from typing import Annotated, Literal

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

from ._base import SnakeWireModel, WireModel
from .common import Int64, UInt32


def _absolute(path: str) -> str:
    if "\0" in path:
        # No file has one; the OS would refuse the path with an error of its own.
        raise PydanticCustomError("path_nul", "must not contain a NUL byte (\\u0000)")
    if not os.path.isabs(path):
        raise PydanticCustomError(
            "absolute_path",
            "must be an absolute path; relative paths are not resolved against any directory",
        )
    # Lexically normalized, as the reference's AbsolutePathBuf (``a/../b`` → ``b``).
    return os.path.normpath(path)


#: The reference's ``AbsolutePathBuf``: a string that must be an absolute path (without NUL).
AbsolutePath = Annotated[str, AfterValidator(_absolute)]


class FsReadFileParams(WireModel):
    path: AbsolutePath


class FsReadFileResponse(WireModel):
    data_base64: str


class FsWriteFileParams(WireModel):
    path: AbsolutePath
    data_base64: str


class FsWriteFileResponse(WireModel):
    pass


class FsCreateDirectoryParams(WireModel):
    path: AbsolutePath
    #: Create missing parents too; null means the default, true.
    recursive: bool | None = None


class FsCreateDirectoryResponse(WireModel):
    pass


class FsGetMetadataParams(WireModel):
    path: AbsolutePath


class FsGetMetadataResponse(WireModel):
    is_directory: bool
    is_file: bool
    is_symlink: bool
    #: Unix ms; 0 when the platform does not record it.
    created_at_ms: Int64
    modified_at_ms: Int64


class FsReadDirectoryParams(WireModel):
    path: AbsolutePath


class FsReadDirectoryEntry(WireModel):
    file_name: str
    is_directory: bool
    is_file: bool


class FsReadDirectoryResponse(WireModel):
    entries: list[FsReadDirectoryEntry]


class FsRemoveParams(WireModel):
    path: AbsolutePath
    #: Remove a directory with its contents; null means the default, true.
    recursive: bool | None = None
    #: A missing path is not an error; null means the default, true.
    force: bool | None = None


class FsRemoveResponse(WireModel):
    pass


class FsCopyParams(WireModel):
    source_path: AbsolutePath
    destination_path: AbsolutePath
    #: Required (true) to copy a directory; ignored for files.
    recursive: bool = False


class FsCopyResponse(WireModel):
    pass


class FsWatchParams(WireModel):
    #: Chosen by the client; unique per connection.
    watch_id: str
    path: AbsolutePath


class FsWatchResponse(WireModel):
    #: The watched path with symlinks resolved.
    path: str


class FsUnwatchParams(WireModel):
    watch_id: str


class FsUnwatchResponse(WireModel):
    pass


class FsChangedNotification(WireModel):
    watch_id: str
    changed_paths: list[str]


# ---------------------------------------------------------------------- fuzzy file search


class FuzzyFileSearchParams(WireModel):
    query: str
    roots: list[str]
    #: A later search with the same token cancels this one (which then answers no files).
    cancellation_token: str | None = None


FuzzyFileSearchMatchType = TypeAliasType("FuzzyFileSearchMatchType", Literal["file", "directory"])


class FuzzyFileSearchResult(SnakeWireModel):
    """One match; the reference spells these fields in snake_case on the wire."""

    root: str
    #: Relative to ``root``.
    path: str
    match_type: FuzzyFileSearchMatchType
    file_name: str
    score: UInt32
    #: Character positions in ``path`` that matched the query, ascending.
    indices: list[UInt32] | None = None


class FuzzyFileSearchSessionStartParams(WireModel):
    session_id: str
    roots: list[str]


class FuzzyFileSearchSessionStartResponse(WireModel):
    pass


class FuzzyFileSearchSessionUpdateParams(WireModel):
    session_id: str
    query: str


class FuzzyFileSearchSessionUpdateResponse(WireModel):
    pass


class FuzzyFileSearchSessionStopParams(WireModel):
    session_id: str


class FuzzyFileSearchSessionStopResponse(WireModel):
    pass


class FuzzyFileSearchSessionUpdatedNotification(WireModel):
    session_id: str
    query: str
    files: list[FuzzyFileSearchResult]


class FuzzyFileSearchSessionCompletedNotification(WireModel):
    session_id: str


class FuzzyFileSearchResponse(WireModel):
    files: list[FuzzyFileSearchResult]


#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "AbsolutePath",
    "FsChangedNotification",
    "FsCopyParams",
    "FsCopyResponse",
    "FsCreateDirectoryParams",
    "FsCreateDirectoryResponse",
    "FsGetMetadataParams",
    "FsGetMetadataResponse",
    "FsReadDirectoryEntry",
    "FsReadDirectoryParams",
    "FsReadDirectoryResponse",
    "FsReadFileParams",
    "FsReadFileResponse",
    "FsRemoveParams",
    "FsRemoveResponse",
    "FsUnwatchParams",
    "FsUnwatchResponse",
    "FsWatchParams",
    "FsWatchResponse",
    "FsWriteFileParams",
    "FsWriteFileResponse",
    "FuzzyFileSearchMatchType",
    "FuzzyFileSearchParams",
    "FuzzyFileSearchResponse",
    "FuzzyFileSearchResult",
    "FuzzyFileSearchSessionCompletedNotification",
    "FuzzyFileSearchSessionStartParams",
    "FuzzyFileSearchSessionStartResponse",
    "FuzzyFileSearchSessionStopParams",
    "FuzzyFileSearchSessionStopResponse",
    "FuzzyFileSearchSessionUpdateParams",
    "FuzzyFileSearchSessionUpdateResponse",
    "FuzzyFileSearchSessionUpdatedNotification",
]
