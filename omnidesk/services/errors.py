"""What the relay services raise on purpose. The UI's op runner turns these into messages.

::

    RelayError
    ├── RelayUnavailable     connect error, timeout, 5xx: retry with backoff ("reconnecting")
    ├── RelayAuthError       401: the token is missing or revoked ("needs token")
    ├── RelayRequestError    another 4xx: our request was refused (not retried)
    │   └── TakeoverConflict 409 on takeover: ``owner`` already has the conversation
    └── RelayProtocolError   the relay answered something we cannot parse
"""

from __future__ import annotations


class RelayError(Exception):
    """Base of every error the relay client raises deliberately."""


class RelayUnavailable(RelayError):
    pass


class RelayAuthError(RelayError):
    pass


class RelayRequestError(RelayError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail or f"HTTP {status}")
        self.status = status
        self.detail = detail


class TakeoverConflict(RelayRequestError):
    def __init__(self, owner: str, detail: str = "") -> None:
        super().__init__(409, detail)
        self.owner = owner


class RelayProtocolError(RelayError):
    pass
