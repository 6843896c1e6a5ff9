"""What every `/v1` route needs: the running relay and the calling agent."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from relay.services import Relay
from relay.store.agents import agent_for_token

_bearer = HTTPBearer(
    auto_error=False, description="An agent token from `omnidesk-relay agents add`"
)


def get_relay(request: Request) -> Relay:
    relay: Relay = request.app.state.relay
    return relay


async def current_agent(
    relay: Annotated[Relay, Depends(get_relay)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    name = await relay.db.read(agent_for_token(credentials.credentials))
    if not name:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return name


RelayDep = Annotated[Relay, Depends(get_relay)]
AgentDep = Annotated[str, Depends(current_agent)]
