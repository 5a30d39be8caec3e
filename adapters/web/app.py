"""The HTTP API (and owner pages): `create_app(system_factory)` builds it over the same System as the CLI.

Routes are in `agents_api.py`, `feedback_api.py` and `owner_pages.py`; this module adds what
every request shares: the pool of Systems, the token store, the body limit, error
shapes, `/healthz` and `/metrics`. Bodies and tokens are never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import Counter

from adapters.bootstrap import Config, System, bootstrap
from adapters.observability.metrics import ServiceMetrics
from adapters.web import agents_api, api_docs, feedback_api, fleet_page, owner_pages, rules_api, training_jobs_api
from adapters.web.api_docs import with_message_schema
from adapters.web.api_tokens import TokenStore
from adapters.web.body_limit import DEFAULT_LIMIT, BodySizeLimit
from adapters.web.security_headers import SecurityHeaders
from adapters.web.sessions import Sessions
from adapters.web.system_pool import SystemPool

log = logging.getLogger("agent_learning.web")


HEALTH = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def create_app(
    system_factory: Callable[[], System],
    tokens: TokenStore | None = None,
    metrics: ServiceMetrics | None = None,
    pool_size: int = 4,
    body_limit: int = DEFAULT_LIMIT,
    health: Callable[[], tuple[bool, dict]] | None = None,
    readiness: Callable[[], tuple[bool, dict]] | None = None,
) -> FastAPI:
    """The app; `tokens` default to `tokens.db` in the home folder of the Systems the factory builds.

    `health` replaces the stores check of `/healthz` (inside `serve`, the workers' health); `readiness`
    answers `/readyz` (inside `serve`: the consumer has its partitions, read models and relay caught up;
    without it, `/readyz` is the stores check)."""
    pool = SystemPool(system_factory, pool_size)
    owns_tokens = tokens is None
    with pool.system() as system:
        config, settings = system.config, system.service.settings
    if tokens is None:
        tokens = TokenStore.in_home(config.home)
    metrics = metrics or ServiceMetrics()
    requests = Counter(
        "agent_learning_http_requests",
        "HTTP requests, by route and status",
        ["method", "route", "status"],
        registry=metrics.registry,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.close()
        if owns_tokens:
            tokens.close()

    app = FastAPI(
        title="agent-learning",
        version="0.1.0",
        lifespan=lifespan,
        description="Learning state of conversational agents; owners see only their own agents.",
        docs_url=None,  # Swagger UI loads its code from a CDN; /docs is a page of our own that needs no network
        redoc_url=None,
    )
    app.openapi = lambda: with_message_schema(app, settings)  # type: ignore[method-assign]
    app.include_router(api_docs.router)
    app.state.pool, app.state.tokens, app.state.metrics = pool, tokens, metrics
    app.state.sessions = Sessions()
    app.state.behind_tls = config.behind_tls  # the session cookie is Secure whatever scheme reaches us
    app.include_router(agents_api.router)
    app.include_router(rules_api.router)
    app.include_router(training_jobs_api.router)
    app.include_router(feedback_api.router)
    app.include_router(owner_pages.router)
    app.include_router(fleet_page.router)
    app.include_router(fleet_page.api)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        requests.labels(request.method, route, str(response.status_code)).inc()
        return response

    app.add_middleware(BodySizeLimit, limit=body_limit)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(RequestValidationError)
    async def readable_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        # One sentence naming each field; the submitted values are not echoed (they may be private text).
        problems = []
        for e in error.errors():
            where = ".".join(str(part) for part in e["loc"] if part != "body") or "body"
            problems.append(f"{where}: {e['msg']}")
        return JSONResponse(
            status_code=422,
            content={
                "detail": "; ".join(problems),
                "errors": [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in error.errors()],
            },
        )

    @app.get(
        "/healthz",
        summary="liveness and readiness: the stores answer (inside serve: every worker is alive and not failing)",
        responses={
            200: {"description": "ready", "content": {"application/json": {"schema": HEALTH}}},
            503: {
                "description": "not ready; the body says which part",
                "content": {"application/json": {"schema": HEALTH}},
            },
        },
    )
    def healthz() -> Response:
        if health is not None:
            ok, report = health()
            return JSONResponse(status_code=200 if ok else 503, content=report)
        try:
            with pool.system() as system:
                system.read_models.checkpoints()
        except Exception as error:  # noqa: BLE001 - any failure means not ready; the body says which
            log.warning("health check failed: %s", type(error).__name__)
            return JSONResponse(status_code=503, content={"ok": False, "error": f"{type(error).__name__}: {error}"})
        failed = pool.failed_projections()
        if failed:  # the other read models go on, but what this one shows has stopped
            return JSONResponse(status_code=503, content={"ok": False, "failedProjections": failed})
        return JSONResponse({"ok": True})

    @app.get(
        "/readyz",
        summary="readiness: 200 once this process can do its job (inside serve: the consumer has its partitions, "
        "read models and relay within 1,000 events); 503 names what it waits for",
        responses={
            200: {"description": "ready", "content": {"application/json": {"schema": HEALTH}}},
            503: {
                "description": "not ready yet; the body says what it waits for",
                "content": {"application/json": {"schema": HEALTH}},
            },
        },
    )
    def readyz() -> Response:
        if readiness is None:
            return healthz()
        ok, report = readiness()
        return JSONResponse(status_code=200 if ok else 503, content=report)

    @app.get(
        "/metrics",
        summary="Prometheus text format",
        response_class=PlainTextResponse,
        responses={200: {"description": "the metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def prometheus() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def run_web(config: Config, address: str) -> int:
    """`agent-learning web`: serves the app on HOST:PORT until SIGTERM or Ctrl-C."""
    import uvicorn

    host, _, port = address.rpartition(":")
    app = create_app(lambda: bootstrap(config))
    # access_log off: request lines carry agent ids only, but the API has nothing to gain from them.
    uvicorn.run(app, host=host or "127.0.0.1", port=int(port), access_log=False, log_config=None)
    return 0
