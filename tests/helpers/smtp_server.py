"""An aiosmtpd server on loopback that records what it receives and can deliver it into a
private Dovecot's Maildir (so a sent reply can be fetched back over IMAP)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.helpers.dovecot import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class RecordingHandler:
    deliver: Callable[[bytes], object] | None = None
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        raw = data if isinstance(data, bytes) else str(data).encode()
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw))
        if self.deliver is not None:
            self.deliver(raw)
        self.arrived.set()
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(
        self,
        *,
        user: str,
        password: str,
        deliver: Callable[[bytes], object] | None = None,
    ) -> None:
        self.user = user
        self.password = password
        self.port = free_port()
        self.handler = RecordingHandler(deliver=deliver)
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,  # plain AUTH is fine on loopback
            ready_timeout=5,
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
