"""Incremental conversation threading in the spirit of JWZ.

Hard links are Message-ID, In-Reply-To and References: every id a message mentions is put in
the same thread (referenced ids that were never seen are kept as placeholders, so a thread
whose middle message is missing stays one thread, and a message that arrives later joins
the thread its replies already built). When one message links two existing threads they are
merged and the assignment says which thread ids disappeared.

The subject is only a fallback, for messages with *no* reference header at all: they join the
threads with the same normalised subject, at least one shared external participant (the
agent's own addresses never count) and a message within ``window`` of their date. Same
subject from another customer therefore starts a new thread. The result does not depend on
the order messages are fed in (newest first during a first sync, oldest first afterwards).

The state is three plain maps (see :class:`ThreaderState`) so a sync can feed messages batch
by batch and the storage can persist them between runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from .subject import normalize_subject
from .types import ParsedMail, ThreadAssignment

DEFAULT_WINDOW = dt.timedelta(days=7)


@dataclass(frozen=True)
class SubjectEntry:
    thread_id: str
    external: frozenset[str]
    date: dt.datetime
    loose: bool
    """The message had no reference header (it may be attached by subject)."""


@dataclass
class ThreaderState:
    """Everything the threader knows; persist it and pass it back to resume."""

    thread_of: dict[str, str] = field(default_factory=dict)
    """Message-ID (seen or only referenced) -> thread id (possibly merged away: see aliases)."""
    present: set[str] = field(default_factory=set)
    """Message-IDs of messages actually seen."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Merged thread id -> the thread id it was merged into."""
    by_subject: dict[str, list[SubjectEntry]] = field(default_factory=dict)
    anchored: set[str] = field(default_factory=set)
    """Threads holding at least one message with reference headers."""


class Threader:
    def __init__(
        self,
        own_addresses: Iterable[str] = (),
        *,
        window: dt.timedelta = DEFAULT_WINDOW,
        state: ThreaderState | None = None,
    ) -> None:
        self.own = frozenset(a.lower() for a in own_addresses)
        self.window = window
        self.state = state if state is not None else ThreaderState()

    # -- public ---------------------------------------------------------------------------

    def add(self, mail: ParsedMail) -> ThreadAssignment:
        return self.add_headers(
            message_id=mail.message_id,
            in_reply_to=mail.in_reply_to,
            references=mail.references,
            subject=mail.subject,
            participants=mail.participants(),
            date=mail.date,
        )

    def add_headers(
        self,
        *,
        message_id: str,
        in_reply_to: str | None,
        references: Iterable[str],
        subject: str,
        participants: Iterable[str],
        date: dt.datetime | None,
    ) -> ThreadAssignment:
        st = self.state
        if message_id in st.present:
            return ThreadAssignment(
                message_id, self.resolve(st.thread_of[message_id]), False, duplicate=True
            )

        linked_ids = [*references]
        if in_reply_to and in_reply_to not in linked_ids:
            linked_ids.append(in_reply_to)
        has_refs = bool(linked_ids)
        linked_ids = [i for i in linked_ids if i != message_id]

        found = _unique(
            self.resolve(st.thread_of[i]) for i in (message_id, *linked_ids) if i in st.thread_of
        )
        external = frozenset(p.lower() for p in participants) - self.own
        subject_key = normalize_subject(subject)

        if not has_refs:
            # No reference header at all: the subject fallback attaches it to every thread it
            # matches (same subject, shared customer, within the window). Also when it is
            # already known as a referenced id: the thread built from its own replies and the
            # thread it answers by subject are one. Taking all matches keeps the result
            # independent of the order messages arrive in.
            found += [
                t
                for t in self._subject_match(subject_key, external, date, loose_only=False)
                if t not in found
            ]
        elif has_refs:
            # Order independence: a reference-less reply fed *before* its thread was attached
            # to nothing; attach it now that a message of its thread is here.
            found += [
                t
                for t in self._subject_match(subject_key, external, date, loose_only=True)
                if t not in found
            ]

        merged: tuple[str, ...] = ()
        if found:
            thread_id = found[0]
            merged = tuple(found[1:])
            for other in merged:
                st.aliases[other] = thread_id
                if other in st.anchored:
                    st.anchored.discard(other)
                    st.anchored.add(thread_id)
            is_new = False
        else:
            thread_id = _new_thread_id(message_id)
            is_new = True

        for i in (message_id, *linked_ids):
            st.thread_of[i] = thread_id
        st.present.add(message_id)
        if has_refs:
            st.anchored.add(thread_id)
        if subject_key and date is not None and external:
            st.by_subject.setdefault(subject_key, []).append(
                SubjectEntry(thread_id, external, _aware(date), loose=not has_refs)
            )
        return ThreadAssignment(message_id, thread_id, is_new, merged=merged)

    def resolve(self, thread_id: str) -> str:
        """The current id of a thread that may have been merged into another."""
        aliases = self.state.aliases
        root = thread_id
        while root in aliases:
            root = aliases[root]
        while thread_id in aliases and aliases[thread_id] != root:  # path compression
            aliases[thread_id], thread_id = root, aliases[thread_id]
        return root

    def thread_of(self, message_id: str) -> str | None:
        tid = self.state.thread_of.get(message_id)
        return self.resolve(tid) if tid is not None else None

    # -- internals ------------------------------------------------------------------------

    def _subject_match(
        self, key: str, external: frozenset[str], date: dt.datetime | None, *, loose_only: bool
    ) -> list[str]:
        """Threads with this subject key, a shared external participant, within the window.

        Nearest first. With ``loose_only``, only entries of reference-less messages that
        are in a thread that no message with references has reached yet.
        """
        if not key or date is None or not external:
            return []
        when = _aware(date)
        hits: list[tuple[dt.timedelta, str]] = []
        for entry in self.state.by_subject.get(key, ()):
            if loose_only and not entry.loose:
                continue
            gap = abs(entry.date - when)
            if gap <= self.window and entry.external & external:
                hits.append((gap, self.resolve(entry.thread_id)))
        hits.sort()
        out = _unique(t for _, t in hits)
        if loose_only:
            out = [t for t in out if t not in self.state.anchored]
        return out


def assign_threads(
    messages: Iterable[ParsedMail], own_addresses: Iterable[str] = ()
) -> dict[str, str]:
    """Message-ID -> final thread id for a whole collection (merges resolved)."""
    threader = Threader(own_addresses)
    ids = [threader.add(m).message_id for m in messages]
    return {i: threader.resolve(threader.state.thread_of[i]) for i in ids}


def _new_thread_id(message_id: str) -> str:
    return "thr-" + hashlib.sha1(message_id.encode("utf-8", "replace")).hexdigest()[:20]


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _aware(date: dt.datetime) -> dt.datetime:
    return date if date.tzinfo is not None else date.replace(tzinfo=dt.UTC)
