"""One place that decides how the mail connections are secured.

Every IMAP and SMTP connection gets its SSL context from :func:`client_context`, so an
account's private CA (``MailAccount.tls_ca_file``) is honoured everywhere or nowhere, and a
certificate failure reads the same whichever library made the connection.
:func:`refuse_plaintext` keeps ``security="none"`` to loopback (tests, a local relay): a
password sent in clear over a real network is never what the agent wants.
"""

from __future__ import annotations

import ipaddress
import ssl

from .errors import MailUnreachable

NO_STARTTLS = "the server does not offer STARTTLS (choose TLS, or another port)"


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_plaintext(host: str, port: int, what: str) -> None:
    """Raise unless a connection without TLS to ``host`` is acceptable (loopback only)."""
    if not is_loopback(host):
        raise MailUnreachable(
            f"refusing to connect to the {what} server {host}:{port} without TLS: "
            "security 'none' is only allowed for 127.0.0.1/localhost; choose TLS or STARTTLS"
        )


def client_context(ca_file: str = "") -> ssl.SSLContext:
    """The system's trust store, plus ``ca_file`` when the account names one.

    ``ca_file`` adds trust (a company's private CA or a server's self-signed certificate);
    it never turns verification or host name checking off.
    """
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise MailUnreachable(
                f"cannot read the account's CA certificate file {ca_file!r}: {exc}"
            ) from exc
    return context


def describe_connect_error(exc: BaseException, host: str, port: int, what: str) -> str:
    """A sentence for the agent; certificate problems say so (and what would fix them)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or str(exc)
        return (
            f"the TLS certificate of the {what} server {host}:{port} is not trusted ({reason}); "
            "if the server uses a private or self-signed certificate, set the account's "
            "CA certificate file"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with the {what} server {host}:{port} failed: {exc}"
    return f"cannot reach {what} server {host}:{port}: {str(exc) or type(exc).__name__}"
