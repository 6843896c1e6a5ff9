"""Channels as the administrator sees them. Created by the first signed webhook naming them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from relay.store.database import StoreFn
from relay.store.tables import channels


def list_channels(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(channels).order_by(channels.c.id)).mappings()
    return [{"id": r["id"], "name": r["name"], "has_token": bool(r["access_token"])} for r in rows]


def rename_channel(channel_id: str, name: str) -> StoreFn[bool]:
    def run(conn: Connection) -> bool:
        return bool(
            conn.execute(
                update(channels).where(channels.c.id == channel_id).values(name=name)
            ).rowcount
        )

    return run


def set_channel_token(channel_id: str, token: str | None) -> StoreFn[bool]:
    def run(conn: Connection) -> bool:
        stmt = update(channels).where(channels.c.id == channel_id).values(access_token=token)
        return bool(conn.execute(stmt).rowcount)

    return run
