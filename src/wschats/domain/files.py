"""Where a file's bytes live: storage keys derive only from server-generated ids."""

from __future__ import annotations

from uuid import UUID


def blob_key(file_id: UUID) -> str:
    return f"files/{file_id}"


def preview_prefix(file_id: UUID) -> str:
    return f"previews/{file_id}/"
