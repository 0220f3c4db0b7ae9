"""Preview endpoints (behaviour.md#previews, DECISIONS.md#previews).

Paths are declared without their trailing slash: the path normaliser strips it, so
`/preview/image/{fileId}/{area}/` and the web client's `.../thumbnail/?...` both arrive here.
Query values are taken as text and parsed by the domain, so every bad value is a 400 with
one wording (`firstPage=x` too, where the original answered 404).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from starlette.responses import Response, StreamingResponse

from wschats.api.deps import Caller, FileId, Services
from wschats.container import Container
from wschats.domain.model import Principal
from wschats.domain.previews import PreviewKind, PreviewRequest, image_request, pdf_request
from wschats.services.previews import PreviewFile

router = APIRouter(tags=["Preview"])

Area = Annotated[str, Path(alias="area")]
Quality = Annotated[str | None, Query(alias="quality")]
OutputFormat = Annotated[str | None, Query(alias="output_format")]
Crop = Annotated[str | None, Query(alias="crop")]
Shape = Annotated[str | None, Query(alias="shape")]
FirstPage = Annotated[str | None, Query(alias="firstPage")]
LastPage = Annotated[str | None, Query(alias="lastPage")]

# Previews of a file never change (a file's bytes are immutable); private: they are the
# caller's room's content.
_HEADERS = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}


async def _send(
    services: Container, caller: Principal, file_id: UUID, request: PreviewRequest
) -> Response:
    return preview_response(await services.previews.preview(caller, file_id, request))


def preview_response(preview: PreviewFile) -> Response:
    if preview.content is not None:
        return Response(preview.content, media_type=preview.mime_type, headers=_HEADERS)
    assert preview.chunks is not None
    return StreamingResponse(
        preview.chunks,
        media_type=preview.mime_type,
        headers={**_HEADERS, "Content-Length": str(preview.size)},
    )


@router.get("/preview/image/{fileId}/{area}", operation_id="getImagePreview")
async def get_image_preview(
    file_id: FileId,
    area: Area,
    caller: Caller,
    services: Services,
    quality: Quality = None,
    output_format: OutputFormat = None,
    crop: Crop = None,
) -> Response:
    request = image_request(
        PreviewKind.IMAGE_PREVIEW, area, quality=quality, output_format=output_format, crop=crop
    )
    return await _send(services, caller, file_id, request)


@router.get("/preview/image/{fileId}/{area}/thumbnail", operation_id="getImageThumbnail")
async def get_image_thumbnail(
    file_id: FileId,
    area: Area,
    caller: Caller,
    services: Services,
    quality: Quality = None,
    output_format: OutputFormat = None,
    shape: Shape = None,
) -> Response:
    request = image_request(
        PreviewKind.IMAGE_THUMBNAIL, area, quality=quality, output_format=output_format, shape=shape
    )
    return await _send(services, caller, file_id, request)


@router.get("/preview/pdf/{fileId}", operation_id="getPdfPreview")
async def get_pdf_preview(
    file_id: FileId,
    caller: Caller,
    services: Services,
    first_page: FirstPage = None,
    last_page: LastPage = None,
) -> Response:
    return await _send(services, caller, file_id, pdf_request(first_page, last_page))


@router.get("/preview/pdf/{fileId}/{area}/thumbnail", operation_id="getPdfThumbnail")
async def get_pdf_thumbnail(
    file_id: FileId,
    area: Area,
    caller: Caller,
    services: Services,
    quality: Quality = None,
    output_format: OutputFormat = None,
    shape: Shape = None,
) -> Response:
    request = image_request(
        PreviewKind.PDF_THUMBNAIL, area, quality=quality, output_format=output_format, shape=shape
    )
    return await _send(services, caller, file_id, request)
