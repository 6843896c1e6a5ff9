"""What a mutation touched. Every service call that changes state returns one of these.

One place (``omnidesk.ui.ops``) turns it into a Qt signal; each view decides whether it
must refresh. There is no "refresh everything" path beside it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Changes:
    conversations: frozenset[int] = frozenset()
    """Conversations whose row (status, mode, preview, unread...) changed or appeared."""
    messages: frozenset[int] = frozenset()
    """Server message ids that appeared or changed."""
    threads: frozenset[int] = frozenset()
    """Conversations whose message list (messages or outbox items) changed."""
    outbox: bool = False
    drafts: frozenset[int] = frozenset()
    settings: bool = False

    def __or__(self, other: Changes) -> Changes:
        return Changes(
            conversations=self.conversations | other.conversations,
            messages=self.messages | other.messages,
            threads=self.threads | other.threads,
            outbox=self.outbox or other.outbox,
            drafts=self.drafts | other.drafts,
            settings=self.settings or other.settings,
        )

    def __bool__(self) -> bool:
        return bool(
            self.conversations
            or self.messages
            or self.threads
            or self.outbox
            or self.drafts
            or self.settings
        )


NO_CHANGES = Changes()
