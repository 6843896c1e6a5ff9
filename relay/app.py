"""The relay's ASGI app: `create_app(settings)` wires the store, Graph client, sender and routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

import aiohttp
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.routing import Route

from relay.api import conversations, events, ops
from relay.channels.graph import GraphClient
from relay.channels.sender import Sender
from relay.events import EventHub
from relay.metrics import Metrics
from relay.services import Relay
from relay.settings import Settings
from relay.store.database import Database
from relay.store.migrate import migrate
from relay.webhooks import routes as webhooks

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> webhooks.WebhookIntake:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.relay_database_url)
        await asyncio.to_thread(migrate, db.engine)
        http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=10),
            # As many connections as GraphClient lets requests fly; idle ones are dropped after
            # 5 s (httpx's default) so few of them are reused just as Meta closes them: a POST
            # on a connection closed under it is an unknown outcome, never retried.
            connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=5.0),
        )
        graph = GraphClient(
            http,
            graph_base_url=settings.graph_base_url,
            instagram_base_url=settings.instagram_graph_base_url,
        )
        metrics = Metrics()
        hub = EventHub()
        sender = Sender(
            db,
            graph,
            metrics,
            default_token=settings.meta_access_token,
            retry_scale=settings.send_retry_scale,
            max_attempts=settings.send_max_attempts,
            # The sender's own commits (claims, answers) only move message statuses: the
            # event streams need to hear of them; waking the sender or the bridge would not.
            on_commit=hub.notify,
        )
        relay = Relay(settings=settings, db=db, hub=hub, metrics=metrics, sender=sender)
        app.state.relay = relay
        tasks = [asyncio.create_task(sender.run(), name="sender")]
        bridge = None
        if settings.bot_enabled:
            from relay.bot.bridge import BotBridge

            bridge = BotBridge(relay)
            await bridge.start()
        gc.freeze()  # what start-up built lives as long as the process: keep it out of GC sweeps
        try:
            yield
        finally:
            relay.stopping.set()
            if bridge is not None:
                await bridge.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await http.close()
            await asyncio.to_thread(db.close)

    app = FastAPI(
        title="Omnidesk relay",
        version="1",
        description="Meta webhooks in, Graph API out, and the agent API with its event stream.",
        lifespan=lifespan,
        routes=[
            Route(webhooks.PATH, webhooks.verify, methods=["GET"], include_in_schema=False),
        ],
    )
    app.include_router(conversations.router)
    app.include_router(events.router)
    app.include_router(ops.router)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in err['loc'][1:]) or 'body'}: {err['msg']}"
            for err in exc.errors()
        ]
        return JSONResponse(
            {"detail": "; ".join(problems), "errors": exc.errors()}, status_code=422
        )

    return webhooks.WebhookIntake(app, lambda: app.state.relay)
