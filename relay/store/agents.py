"""Agents and their API tokens. Only a hash of each token is stored."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import Connection, insert, select, update

from relay.store.database import StoreFn
from relay.store.tables import agents, utcnow


class AgentExists(Exception):
    pass


def hash_token(token: str) -> str:
    # Tokens are 256 random bits: a plain hash is as good as a slow one and keeps auth cheap.
    return hashlib.sha256(token.encode()).hexdigest()


def add_agent(name: str) -> StoreFn[str]:
    def run(conn: Connection) -> str:
        if conn.execute(select(agents.c.id).where(agents.c.name == name)).first():
            raise AgentExists(name)
        token = "omd_" + secrets.token_urlsafe(32)
        conn.execute(
            insert(agents).values(name=name, token_hash=hash_token(token), created_at=utcnow())
        )
        return token

    return run


def list_agents(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(agents).order_by(agents.c.name)).mappings()
    return [
        {"name": r["name"], "created_at": r["created_at"], "revoked_at": r["revoked_at"]}
        for r in rows
    ]


def revoke_agent(name: str) -> StoreFn[bool]:
    def run(conn: Connection) -> bool:
        result = conn.execute(
            update(agents)
            .where(agents.c.name == name, agents.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return bool(result.rowcount)

    return run


def agent_for_token(token: str) -> StoreFn[str | None]:
    def run(conn: Connection) -> str | None:
        query = select(agents.c.name).where(
            agents.c.token_hash == hash_token(token), agents.c.revoked_at.is_(None)
        )
        name = conn.execute(query).scalar()
        return None if name is None else str(name)

    return run
