"""A bare FastAPI endpoint returning a fixed JSON body: the baseline for bench/rooms_list.py."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response

BODY = Path(os.environ["BARE_BODY_FILE"]).read_bytes()
app = FastAPI()


@app.get("/rooms")
async def rooms() -> Response:
    return Response(content=BODY, media_type="application/json")
