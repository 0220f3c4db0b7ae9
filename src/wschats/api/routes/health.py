from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from wschats.api.deps import Services
from wschats.api.errors import error_response
from wschats.api.rendering import JsonResponse
from wschats.services.health import HealthStatus

router = APIRouter(tags=["Health"])


@router.get("/health", operation_id="getHealthStatus")
async def get_health(services: Services) -> Response:
    report = await services.health.report()
    return JsonResponse(
        {
            "isLive": True,
            "status": report.status.value,
            "dependencies": [
                {"name": dep.value, "isHealthy": ok} for dep, ok in report.dependencies
            ],
        }
    )


@router.get("/health/live", operation_id="isLive", status_code=204)
async def is_live() -> Response:
    return Response(status_code=204)


@router.get("/health/ready", operation_id="isReady", status_code=204)
async def is_ready(request: Request, services: Services) -> Response:
    report = await services.health.report()
    if report.status is HealthStatus.OK:
        return Response(status_code=204)
    down = ", ".join(dep.value for dep, ok in report.dependencies if not ok)
    if report.status is HealthStatus.WARN:
        return error_response(request, 429, f"Ready, but optional dependencies are down: {down}")
    return error_response(request, 500, f"Not ready: required dependencies are down: {down}")
