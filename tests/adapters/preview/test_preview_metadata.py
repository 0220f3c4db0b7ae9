"""Previews and thumbnails carry nothing of their source's metadata: no EXIF (GPS included),
XMP, colour profile, comment or PNG text chunk, whatever the source and output formats. A
source's colour profile is applied to the pixels (converted to sRGB) rather than copied."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.metadata import SECRET, SOURCES, jpeg_with_metadata, metadata_blocks, swapped_profile
from wschats.adapters.preview.inprocess import InProcessPreviewer
from wschats.domain.previews import OutputFormat, PreviewKind, PreviewRequest, Shape

REQUESTS = [
    PreviewRequest(PreviewKind.IMAGE_PREVIEW),  # the original size: no resize at all
    PreviewRequest(PreviewKind.IMAGE_PREVIEW, 150, 150),  # padded
    PreviewRequest(PreviewKind.IMAGE_THUMBNAIL),
    PreviewRequest(PreviewKind.IMAGE_THUMBNAIL, 100, 100, shape=Shape.ROUNDED),
]


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("output", [None, *OutputFormat], ids=lambda o: getattr(o, "value", "auto"))
async def test_no_metadata_of_the_source_reaches_a_preview(
    previewer: InProcessPreviewer, tmp_path: Path, source: str, output: OutputFormat | None
) -> None:
    path = tmp_path / source
    path.write_bytes(SOURCES[source]())
    assert metadata_blocks(path.read_bytes())  # the source carries some
    for request in REQUESTS:
        asked = PreviewRequest(
            request.kind, request.width, request.height, output_format=output, shape=request.shape
        )
        rendered = await previewer.render(asked, path)
        assert metadata_blocks(rendered.content) == [], asked
        assert SECRET not in rendered.content, asked


async def test_a_colour_profile_is_applied_not_copied(
    previewer: InProcessPreviewer, tmp_path: Path
) -> None:
    # Red samples described by a profile whose red primary is green: the picture is green.
    buffer = io.BytesIO()
    Image.new("RGB", (200, 100), (220, 20, 20)).save(
        buffer, "JPEG", icc_profile=swapped_profile(), quality=95
    )
    path = tmp_path / "profiled.jpg"
    path.write_bytes(buffer.getvalue())
    for output in (OutputFormat.JPEG, OutputFormat.PNG):
        request = PreviewRequest(PreviewKind.IMAGE_THUMBNAIL, 80, 80, output_format=output)
        rendered = await previewer.render(request, path)
        assert metadata_blocks(rendered.content) == []
        colour = Image.open(io.BytesIO(rendered.content)).convert("RGB").getpixel((40, 40))
        assert isinstance(colour, tuple)
        assert colour[1] > 150 > colour[0], (output, colour)


async def test_the_jpeg_comment_of_the_issue_stays_out_of_its_thumbnail(
    previewer: InProcessPreviewer, tmp_path: Path
) -> None:
    path = tmp_path / "commented.jpg"
    path.write_bytes(jpeg_with_metadata())
    rendered = await previewer.render(PreviewRequest(PreviewKind.IMAGE_THUMBNAIL), path)
    assert rendered.mime_type == "image/jpeg"
    assert "comment" not in Image.open(io.BytesIO(rendered.content)).info
