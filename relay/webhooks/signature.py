"""Proof that a webhook body came from Meta: HMAC-SHA256 of the raw bytes with an app secret."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

_PREFIX = "sha256="


def signature_for(secret: bytes, body: bytes) -> str:
    """The header value Meta would send for `body` (used by tests, the demo and benchmarks)."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def is_signed_by_meta(header: str | None, body: bytes, secrets: Sequence[bytes]) -> bool:
    """True when `header` is `sha256=<hex>` of `body` under any of `secrets`.

    Every candidate is compared in constant time, and all of them are tried whatever the
    outcome, so timing says nothing about which secret (or how much of a digest) matched.
    """
    if not header or not header.startswith(_PREFIX):
        return False
    given = header[len(_PREFIX) :].strip().lower().encode("ascii", "replace")
    matched = False
    for secret in secrets:
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(expected, given)
    return matched
