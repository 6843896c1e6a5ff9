"""Operations: health for load balancers, metrics for Prometheus."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Connection, text

from relay.api.deps import RelayDep

router = APIRouter(tags=["operations"])


def _ping(conn: Connection) -> None:
    conn.execute(text("SELECT 1"))


@router.get("/healthz")
async def healthz(relay: RelayDep) -> JSONResponse:
    """200 when the store answers; the broker's state is shown beside it (bridge: the bot)."""
    try:
        await relay.db.read(_ping)
        store = "ok"
    except Exception as exc:  # the point is to report it, whatever it is
        store = f"unreachable: {type(exc).__name__}"
    broker = relay.broker_state()
    healthy = store == "ok"
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "store": store, "broker": broker},
        status_code=200 if healthy else 503,
    )


@router.get("/metrics")
async def metrics(relay: RelayDep) -> Response:
    return Response(generate_latest(relay.metrics.registry), media_type=CONTENT_TYPE_LATEST)
