"""previewer_service, embedded: `InProcessPreviewer` renders previews, and re-encodes room and
user pictures, in worker processes.

Modules: `inprocess` (the ports: pool, time limits, failures), `worker` (the picklable entry
points run in the pool), `geometry` (sizes), `images` (Pillow), `pdfs` (pypdfium2),
`pictures` (what is stored of an uploaded picture: its rules are in that module).

Behaviour (DECISIONS.md#previews first, then the original's), and the edge cases the docs
leave open, as decided here:

Sizes
- `WxH`; a 0 side is derived from the other and the source's aspect ratio. `0x0` is the
  original size for a preview, and for a thumbnail the original fitted inside 320x320
  (an upper bound: a smaller original is not enlarged).
- Any side under 80 is then raised to 80. An original with a side under 80 px is enlarged
  at most 2x: when the box would need more, the box shrinks, keeping its shape (a 20x20
  picture asked at 200x100 gives 40x20). This applies to every size, not only raised ones,
  so a tiny picture never becomes a large blur.
- The output never exceeds 8192 px a side or `max_pixels` pixels: a larger box (even an
  explicit one) is scaled down, keeping its shape, rather than refused.
- "Original size" of a PDF page is its size in points (72 dpi).

Placement
- Preview without crop: fit inside the box and pad to the box size. Padding is transparent
  for PNG, WEBP and GIF output and white for JPEG (JPEG has no alpha; white is what the
  picture is shown on, and the original's black bars looked like a broken image).
- Preview with crop, and every thumbnail: cover the box, cut from the centre; PDF
  thumbnails cut from the top of page 1.
- `shape=rounded` (on any image output, not only thumbnails): an ellipse inscribed in the
  output, so a circle for a square box; corners transparent in PNG/WEBP/GIF, white in JPEG.

Formats
- Accepted images: JPEG (including MPO), PNG, GIF, WEBP, BMP, TIFF; animated ones are
  previewed from their first frame, and the output is a still picture.
- Output format: as requested, else the source format when JPEG/PNG/GIF/WEBP, else JPEG
  (always JPEG for PDF thumbnails). Mime type `image/<format>`.
- Outputs carry no metadata of their source: no EXIF (GPS included), XMP, comments, PNG
  text chunks or colour profile. A source's profile is applied instead (pixels converted to
  sRGB), so colours stay right; a profile that cannot be read leaves the pixels as they are.
- EXIF orientation is applied. Palette, greyscale, 1-bit, CMYK and 16-bit pictures are
  converted to RGB (RGBA when they have transparency) before scaling, so scaling blends.
- Quality lowest..highest is JPEG/WEBP quality 0/15/50/80/95 (0 is valid for both
  encoders); PNG and GIF have no quality to tune and ignore it.

Refusals (`BadRequest`, so 400)
- A file that is not one of the accepted images, cannot be decoded, is truncated, or
  declares more than `max_pixels` pixels (checked from the header, before any decoding).
- PDF: not a PDF, no end-of-file marker in the last 1024 bytes (a truncated file, even if
  PDFium could rebuild part of it), unreadable, no pages, or needing a password to open.
  A PDF encrypted with an owner password only opens without one, as in any viewer, and is
  previewed like any other.
- PDF page ranges: pages are 1-based, `last_page` 0 is the last page; a first page under 1,
  a first page after the last one, or a last page past the end are refused (never
  clamped), so the client learns its range was wrong.

Failures of the previewer itself (`DependencyFailed(PREVIEWER)`, so 424)
- No free worker within `timeout_seconds`, a render running longer than `timeout_seconds`
  (the pool is replaced to stop it), a worker process that died, or an unexpected error.

Process pool notes for the composition root
- Workers are started with the `forkserver` method, so like any spawn/forkserver pool they
  re-import the program's main module: the entry point must keep its work under
  `if __name__ == "__main__":` (the `wschats` command and uvicorn do).
- Identical requests are not cached here; caching belongs to the caller (DECISIONS.md#previews).
"""

from wschats.adapters.preview.inprocess import InProcessPreviewer

__all__ = ["InProcessPreviewer"]
