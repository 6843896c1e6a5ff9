"""Subject prefixes: stripping ``Re:``/``AW:``/``Fwd:`` stacks and normalising for comparison."""

from __future__ import annotations

import re

_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|fwd?|wg|tr|rv|ref|odp|r)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)


def strip_prefixes(subject: str) -> str:
    """``"Re: AW: Fwd: Order"`` -> ``"Order"`` (also ``Re[2]:`` and full-width colons)."""
    previous = None
    text = subject.strip()
    while previous != text:
        previous = text
        text = _PREFIX.sub("", text).strip()
    return text


def reply_subject(subject: str) -> str:
    """Exactly one ``Re: `` in front of the stripped subject."""
    base = strip_prefixes(subject)
    return f"Re: {base}" if base else "Re:"


def normalize_subject(subject: str) -> str:
    """Key for comparing subjects: prefixes stripped, case folded, whitespace collapsed."""
    return " ".join(strip_prefixes(subject).casefold().split())
