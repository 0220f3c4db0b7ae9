"""PDF work with pypdfium2: page extraction and first-page thumbnails.

Runs inside the preview worker processes only. PDFium is not thread-safe; each worker
process runs one task at a time, so no lock is needed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium  # type: ignore[import-untyped]
from PIL import Image

from wschats.adapters.preview.geometry import Anchor, Fit, Layout, plan
from wschats.adapters.preview.images import draw, finish
from wschats.domain.errors import BadRequest
from wschats.domain.previews import OutputFormat, PreviewRequest, Rendered

# Readers look for the header near the start and the end marker near the end (PDF 1.7,
# implementation notes 13 and 18); a file without its end marker was cut short, even if
# PDFium could rebuild something from what is left.
_HEADER = b"%PDF-"
_END_MARKER = b"%%EOF"
_SEARCH_WINDOW = 1024
_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD


def extract_pages(request: PreviewRequest, source: Path) -> Rendered:
    """A new PDF with pages first_page..last_page (1-based, last_page 0 = the last page)."""
    with _opened(source) as document:
        count = len(document)
        first = request.first_page
        last = request.last_page or count
        if first < 1 or last < 1:
            raise BadRequest("PDF pages are numbered from 1")
        if first > last:
            raise BadRequest(f"the first page ({first}) is after the last page ({last})")
        if last > count:
            raise BadRequest(f"the PDF has {count} pages; page {last} does not exist")
        extract = pdfium.PdfDocument.new()
        try:
            with _pdfium_errors("the PDF pages cannot be copied"):
                extract.import_pages(document, list(range(first - 1, last)))
            buffer = io.BytesIO()
            extract.save(buffer)
        finally:
            extract.close()
    return Rendered(content=buffer.getvalue(), mime_type="application/pdf")


def render_first_page(request: PreviewRequest, source: Path, max_pixels: int) -> Rendered:
    """The thumbnail of page 1: cover the box, keep the top of the page."""
    with _opened(source) as document, _pdfium_errors("the first PDF page cannot be read"):
        page = document[0]
        page_size: tuple[float, float] = page.get_size()  # in points, page rotation applied
        layout = plan(
            page_size,
            (request.width, request.height),
            thumbnail=True,
            fit=Fit.COVER,
            anchor=Anchor.TOP,
            max_pixels=max_pixels,
        )
        picture = _render_region(page, page_size, layout)
    # The bitmap is already the region, at about the output size; `draw` fixes rounding.
    region_w = layout.region[2] - layout.region[0]
    region_h = layout.region[3] - layout.region[1]
    exact = Layout(
        canvas=layout.canvas,
        content=layout.content,
        offset=layout.offset,
        region=(0.0, 0.0, region_w, region_h),
        scale=layout.scale,
    )
    drawn = draw(picture, exact, (region_w, region_h))
    return finish(drawn, request, request.output_format or OutputFormat.JPEG)


def _render_region(page: Any, page_size: tuple[float, float], layout: Layout) -> Image.Image:
    """Rasterise only the visible region, so the bitmap never exceeds the output size."""
    left, top, right, bottom = layout.region
    crop = (left, page_size[1] - bottom, page_size[0] - right, top)  # left, bottom, right, top
    bitmap = page.render(scale=layout.scale, crop=crop)  # white background, page as printed
    picture: Image.Image = bitmap.to_pil()
    return picture.convert("RGB")


@contextmanager
def _opened(source: Path) -> Iterator[Any]:
    _check_envelope(source)
    try:
        document = pdfium.PdfDocument(str(source))
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == _PASSWORD_ERROR:
            raise BadRequest("the PDF is protected by a password") from None
        raise BadRequest(f"the file is not a readable PDF: {exc}") from None
    try:
        if len(document) == 0:
            raise BadRequest("the PDF has no pages")
        yield document
    finally:
        document.close()


def _check_envelope(source: Path) -> None:
    with source.open("rb") as file:
        head = file.read(_SEARCH_WINDOW)
        size = file.seek(0, io.SEEK_END)
        file.seek(max(0, size - _SEARCH_WINDOW))
        tail = file.read()
    if _HEADER not in head:
        raise BadRequest("the file is not a PDF")
    if _END_MARKER not in tail:
        raise BadRequest("the PDF is truncated (no end-of-file marker)")


@contextmanager
def _pdfium_errors(what: str) -> Iterator[None]:
    try:
        yield
    except pdfium.PdfiumError as exc:
        raise BadRequest(f"{what}: {exc}") from None
