"""The FastAPI app: the HTTP layer over the services `wschats.bootstrap` builds.

Its lifespan builds the adapters and the services (docs/architecture.md#composition-root) and
closes them in the reverse order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from wschats.api.docs import install_docs
from wschats.api.errors import install_error_handlers
from wschats.api.openapi import install_openapi
from wschats.api.routing import register_routes
from wschats.api.server.limits import RequestLimits, rate_limiter
from wschats.api.server.metrics import Metrics, OutboxBacklog, install_metrics
from wschats.api.server.middleware import PathNormalizer, TraceIdMiddleware
from wschats.api.server.observability import RequestObserver
from wschats.api.server.preview_shortcut import PreviewShortcut
from wschats.api.web_client import default_web_dir, install_web_client
from wschats.bootstrap import Adapters, build_adapters, build_services
from wschats.config import Settings


def outbox_backlog(adapters: Adapters) -> OutboxBacklog | None:
    """How far XMPP delivery is behind, for the metrics: only XMPP deployments have an outbox."""
    chat_server = adapters.messaging or adapters.chat_rooms
    return adapters.outbox.backlog if chat_server is not None else None


def create_app(settings: Settings | None = None, *, adapters: Adapters | None = None) -> FastAPI:
    """The app of `settings`. Its lifespan builds the adapters, unless `adapters` are given
    (built by the caller with `build_adapters`, and closed by it), then the services."""
    settings = settings or Settings()
    metrics = Metrics() if settings.metrics else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            built = adapters
            if built is None:
                built = await build_adapters(settings)
                stack.push_async_callback(built.close)
            services = build_services(
                settings,
                built,
                on_preview_lookup=metrics.count_preview_lookup if metrics is not None else None,
            )
            stack.push_async_callback(services.close)  # first: the services stop, then adapters
            app.state.container = services
            backlog = outbox_backlog(built)
            if metrics is not None and backlog is not None:
                metrics.watch_outbox(backlog)
            yield

    app = FastAPI(
        title="wschats: Workstream Collaboration Chats API",
        version="1.3.1",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, without a CDN
        redoc_url=None,  # not served: its assets would come from a CDN
    )
    app.state.rate_limiter = rate_limiter(settings)
    install_error_handlers(app)
    register_routes(app)
    install_web_client(app, settings.web_dir or default_web_dir(), settings.base_path)
    install_openapi(app, base_path=settings.base_path)
    if settings.api_docs:
        install_docs(app, base_path=settings.base_path)
    if metrics is not None:
        install_metrics(app, metrics, token=settings.metrics_token or None)
    # The last added runs first: TraceId (and nosniff), PathNormalizer, RequestObserver,
    # RequestLimits, PreviewShortcut.
    app.add_middleware(PreviewShortcut)
    app.add_middleware(
        RequestLimits,
        max_json_body=settings.max_json_body_kb * 1024,
        max_list_length=settings.max_list_length,
    )
    app.add_middleware(RequestObserver, metrics=metrics)
    app.add_middleware(PathNormalizer, base_path=settings.base_path)
    app.add_middleware(TraceIdMiddleware)
    return app
