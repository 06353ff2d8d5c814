"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from tiangong import __version__
from tiangong.api.docs import install_docs
from tiangong.api.errors import install_error_handlers, register_error_family
from tiangong.api.lean_route import HotRoutes
from tiangong.api.middleware import RequestIdMiddleware
from tiangong.api.router import api_router, freeze
from tiangong.bus import close_bus
from tiangong.cache import close_cache, get_cache
from tiangong.chat.endpoints import router as chat_router
from tiangong.config import get_settings
from tiangong.conversations.reaper import run_forever as reap_interrupted_answers
from tiangong.conversations.turns import drain as drain_turns
from tiangong.db.engine import dispose_engine, get_engine
from tiangong.execution_logs import retention as log_retention
from tiangong.feishu import jobs as feishu_jobs
from tiangong.goals import jobs as goal_jobs
from tiangong.health.endpoints import router as health_router
from tiangong.knowledge import lifecycle as knowledge
from tiangong.llm_logs.recorder import flush as flush_llm_logs
from tiangong.logs import configure_logging
from tiangong.mcp.server import McpEndpoint
from tiangong.notices import lifecycle as notices
from tiangong.notices.audit.middleware import AuditMiddleware
from tiangong.schedules import scheduler
from tiangong.security.keys import encryption_key, secret_key
from tiangong.smartflow import envelope as smartflow_envelope
from tiangong.smartflow.endpoints import router as smartflow_router
from tiangong.workflows import runner as workflow_runner


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Create keys and connections up front so the first request pays nothing.
    secret_key()
    encryption_key()
    get_engine()
    get_cache()
    # Picks the vector store and resumes ingestion a previous process left unfinished.
    await knowledge.start()
    await feishu_jobs.start()
    await goal_jobs.start()
    reaper = asyncio.create_task(reap_interrupted_answers())
    await workflow_runner.start_recovery()
    scheduler.start()
    log_retention.start()
    notices.start()
    async with app.state.mcp.run():
        # Everything built so far (routes, schemas, mappers) lives as long as the process:
        # keep it out of the collector's passes, which otherwise walk it again and again.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        yield
    reaper.cancel()
    await scheduler.stop()
    await workflow_runner.stop_recovery()
    await log_retention.stop()
    await notices.stop()
    # Running chat turns finish (or save what they have) before connections close.
    await drain_turns()
    await feishu_jobs.stop()
    await goal_jobs.stop()
    await knowledge.stop()
    await flush_llm_logs()
    await close_cache()
    await close_bus()
    await dispose_engine()


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = FastAPI(
        title="Tiangong",
        version=__version__,
        description="Self-hosted AI agent platform",
        lifespan=lifespan,
        # /docs is served below from packaged assets: the default loads them from a CDN,
        # which a self-hosted install without internet cannot reach.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    install_docs(app)
    install_error_handlers(app)
    register_error_family(smartflow_envelope.PREFIX, smartflow_envelope.error_response)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
        )
    # Inside RequestIdMiddleware, so audit entries carry the request id.
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health_router)
    app.include_router(health_router, prefix="/api/v1", include_in_schema=False)
    app.include_router(api_router)
    # The MCP server (Streamable HTTP); it authenticates each request itself.
    app.state.mcp = McpEndpoint()
    app.add_route("/mcp", app.state.mcp, include_in_schema=False)
    freeze(app.router)
    app.router.middleware_stack = HotRoutes(
        app.router.middleware_stack, api_router.prefix, [chat_router, smartflow_router]
    )
    return app
