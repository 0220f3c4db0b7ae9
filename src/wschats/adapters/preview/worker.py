"""The entry points that run inside the preview worker processes.

Everything here is top-level and picklable, and only two kinds of exception cross the
process boundary: `BadRequest` (the file's fault) and `RenderError` (ours), both
rebuilt from a single message on the other side.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from wschats.domain.errors import BadRequest
from wschats.domain.previews import PreviewKind, PreviewRequest, Rendered

_log = logging.getLogger(__name__)

# Imported by the workers only (the server process needs no Pillow or PDFium); the pool
# preloads them so a new worker does not pay for the import on its first file.
RENDERING_MODULES = (
    "wschats.adapters.preview.images",
    "wschats.adapters.preview.pdfs",
    "wschats.adapters.preview.pictures",
)

DEFAULT_MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class RenderLimits:
    # Decoded pixels of a source image, and pixels of any output or rasterised page.
    max_pixels: int = DEFAULT_MAX_PIXELS


class RenderError(Exception):
    """An unexpected failure inside a worker, carried back as text."""


def render_file(request: PreviewRequest, source: Path, limits: RenderLimits) -> Rendered:
    from wschats.adapters.preview.images import render_image
    from wschats.adapters.preview.pdfs import extract_pages, render_first_page

    try:
        if request.kind is PreviewKind.PDF_PREVIEW:
            return extract_pages(request, source)
        if request.kind is PreviewKind.PDF_THUMBNAIL:
            return render_first_page(request, source, limits.max_pixels)
        with source.open("rb") as file:
            return render_image(request, file, limits.max_pixels)
    except BadRequest:
        raise
    except Exception as exc:
        # Third-party exceptions may not survive pickling; keep the text, log the trace here.
        _log.exception("preview of %s failed", source)
        raise RenderError(f"{type(exc).__name__}: {exc}") from None


def normalise_picture(data: bytes, max_side: int, limits: RenderLimits) -> Rendered:
    from wschats.adapters.preview.pictures import normalise_picture as normalise

    try:
        return normalise(data, max_side, limits.max_pixels)
    except BadRequest:
        raise
    except Exception as exc:
        _log.exception("re-encoding a picture of %d bytes failed", len(data))
        raise RenderError(f"{type(exc).__name__}: {exc}") from None


def ping() -> bool:
    """A round trip through the pool, for health checks."""
    return True


def lower_priority() -> None:
    """Pool initializer: renders yield the CPU to the server process, so a burst of previews
    does not slow every other request (the original's health checks stalled behind them).

    Linux's SCHED_IDLE lets a waking server thread preempt a render at once, where a niced
    render still holds the CPU for part of its time slice; renders keep a small share of a
    busy CPU (they are not starved). Elsewhere: nice 10."""
    with contextlib.suppress(OSError):
        if hasattr(os, "SCHED_IDLE"):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        else:
            os.nice(10)
