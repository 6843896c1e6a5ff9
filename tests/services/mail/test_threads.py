from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass

import pytest

from omnidesk.mail.parse import parse_message
from omnidesk.mail.subject import normalize_subject, reply_subject, strip_prefixes
from omnidesk.mail.threads import Threader, assign_threads
from omnidesk.mail.types import Address, ParsedMail

AGENT = "support@shop.test"
COLLEAGUE = "kim@shop.test"
SHARED_SUBJECTS = ["Order problem", "Invoice question", "Delivery late", "Refund"]


@dataclass
class Mailbox:
    feed: list[ParsedMail]
    """What the sync sees: missing messages left out, duplicates (INBOX + Sent) included."""
    truth: dict[str, int]
    true_threads: int


def generate(seed: int, n_threads: int = 200) -> Mailbox:
    rnd = random.Random(seed)
    customers = [f"customer{i}@mail{i % 7}.example" for i in range(60)]
    next_free: dict[str, dt.datetime] = defaultdict(
        lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=rnd.randint(0, 2000))
    )
    feed: list[ParsedMail] = []
    truth: dict[str, int] = {}
    counter = 0
    for t in range(n_threads):
        customer = rnd.choice(customers)
        base = rnd.choice(SHARED_SUBJECTS) if rnd.random() < 0.6 else f"Question {t} about item"
        # the same customer may reopen the same subject, but only after more than 7 days
        when = next_free[customer]
        n = rnd.randint(1, 8)
        chain: list[ParsedMail] = []
        missing: set[int] = set()
        for i in range(n):
            counter += 1
            mid = f"<m{counter}.{rnd.getrandbits(32):x}@{'shop.test' if i % 2 else 'mail.example'}>"
            if i == 0:
                author, to, cc = customer, [AGENT], []
                subject, refs, irt = base, [], None
            else:
                parent = chain[-1]
                roll = rnd.random()
                if i % 2 == 1:
                    author, to, cc = AGENT, [customer], []
                    if rnd.random() < 0.2:
                        author, cc = COLLEAGUE, [AGENT]  # a colleague answers from another client
                else:
                    author, to, cc = customer, [AGENT], []
                prefix = rnd.choice(["Re: ", "RE: ", "AW: ", "Re: AW: ", "SV: ", "Fwd: Re: "])
                subject = prefix + (base if rnd.random() < 0.9 else strip_prefixes(parent.subject))
                parent_missing = (len(chain) - 1) in missing
                if author == customer and roll < 0.15 and not parent_missing:
                    refs, irt = [], None  # webmail that drops the reference headers
                elif roll < 0.3 and not parent_missing:
                    refs, irt = [], parent.message_id  # In-Reply-To only
                else:
                    refs = [
                        *(
                            parent.references
                            or ([parent.in_reply_to] if parent.in_reply_to else [])
                        ),
                        parent.message_id,
                    ]
                    if len(refs) > 4:
                        refs = [refs[0], *refs[-3:]]
                    irt = parent.message_id
            when = when + dt.timedelta(minutes=rnd.randint(30, 60 * 30))
            mail = ParsedMail(
                message_id=mid,
                in_reply_to=irt,
                references=refs,
                subject=subject,
                from_=[Address("", author)],
                to=[Address("", a) for a in to],
                cc=[Address("", a) for a in cc],
                date=when,
            )
            chain.append(mail)
            # A middle message missing from the mailbox (deleted, or never received). One that
            # carried no reference header cannot go missing: nothing could bridge that gap.
            if 0 < i < n - 1 and irt and rnd.random() < 0.12 and (i - 1) not in missing:
                missing.add(i)
        for i, mail in enumerate(chain):
            if i in missing:
                continue
            truth[mail.message_id] = t
            feed.append(mail)
            if mail.from_[0].email == AGENT and rnd.random() < 0.3:
                feed.append(mail)  # same message again from Sent
        next_free[customer] = when + dt.timedelta(days=rnd.randint(8, 30))
    return Mailbox(feed, truth, n_threads)


def _purity(result: dict[str, str], truth: dict[str, int]) -> tuple[int, int]:
    """(false merges, split true threads)."""
    by_computed: dict[str, set[int]] = defaultdict(set)
    by_true: dict[int, set[str]] = defaultdict(set)
    for mid, tid in result.items():
        by_computed[tid].add(truth[mid])
        by_true[truth[mid]].add(tid)
    false_merges = sum(1 for s in by_computed.values() if len(s) > 1)
    splits = sum(1 for s in by_true.values() if len(s) > 1)
    return false_merges, splits


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("order", ["chronological", "newest_first", "shuffled_batches"])
def test_generated_mailbox_is_threaded_purely(seed: int, order: str) -> None:
    box = generate(seed)
    feed = list(box.feed)
    if order == "newest_first":
        feed.sort(key=lambda m: m.date or dt.datetime.min, reverse=True)
    elif order == "shuffled_batches":
        random.Random(seed).shuffle(feed)
    elif order == "chronological":
        feed.sort(key=lambda m: m.date or dt.datetime.min)
    threader = Threader([AGENT, COLLEAGUE])
    duplicates = 0
    for start in range(0, len(feed), 50):  # the sync feeds batches
        for mail in feed[start : start + 50]:
            duplicates += threader.add(mail).duplicate
    assert duplicates == len(feed) - len(box.truth)
    result = {mid: threader.thread_of(mid) or "" for mid in box.truth}
    false_merges, splits = _purity(result, box.truth)
    assert (false_merges, splits) == (0, 0)
    assert len(set(result.values())) == box.true_threads


def test_shared_subject_different_customers_stay_apart() -> None:
    day = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    a = ParsedMail("<a@x>", subject="Order problem", from_=[Address("", "a@c.example")],
                   to=[Address("", AGENT)], date=day)  # fmt: skip
    b = ParsedMail("<b@x>", subject="Order problem", from_=[Address("", "b@c.example")],
                   to=[Address("", AGENT)], date=day + dt.timedelta(hours=1))  # fmt: skip
    a2 = ParsedMail("<a2@x>", subject="RE: AW: order  PROBLEM", from_=[Address("", "a@c.example")],
                    to=[Address("", AGENT)], date=day + dt.timedelta(days=2))  # fmt: skip
    late = ParsedMail("<a3@x>", subject="Order problem", from_=[Address("", "a@c.example")],
                      to=[Address("", AGENT)], date=day + dt.timedelta(days=20))  # fmt: skip
    threads = assign_threads([a, b, a2, late], own_addresses=[AGENT])
    assert threads["<a@x>"] == threads["<a2@x>"]
    assert len({threads["<a@x>"], threads["<b@x>"], threads["<a3@x>"]}) == 3


def test_missing_middle_and_late_parent_merge() -> None:
    threader = Threader([AGENT])
    c = threader.add_headers(message_id="<c@x>", in_reply_to="<b@x>", references=["<a@x>", "<b@x>"],
                             subject="Re: x", participants=["u@x"], date=None)  # fmt: skip
    d = threader.add_headers(message_id="<d@x>", in_reply_to="<z@x>", references=[],
                             subject="Re: x", participants=["u@x"], date=None)  # fmt: skip
    assert c.is_new_thread and d.is_new_thread and c.thread_id != d.thread_id
    # <z@x> turns out to reply to <b@x>: both threads become one
    z = threader.add_headers(message_id="<z@x>", in_reply_to="<b@x>", references=["<a@x>", "<b@x>"],
                             subject="Re: x", participants=["u@x"], date=None)  # fmt: skip
    assert not z.is_new_thread
    assert set(z.merged) | {z.thread_id} == {c.thread_id, d.thread_id}
    assert threader.thread_of("<c@x>") == threader.thread_of("<d@x>") == z.thread_id
    a = threader.add_headers(message_id="<a@x>", in_reply_to=None, references=[],
                             subject="x", participants=["u@x"], date=None)  # fmt: skip
    assert a.thread_id == z.thread_id and not a.is_new_thread


def test_state_can_resume() -> None:
    first = Threader([AGENT])
    first.add_headers(message_id="<1@x>", in_reply_to=None, references=[], subject="s",
                      participants=["u@x"], date=None)  # fmt: skip
    second = Threader([AGENT], state=first.state)
    got = second.add_headers(message_id="<2@x>", in_reply_to="<1@x>", references=["<1@x>"],
                             subject="Re: s", participants=["u@x"], date=None)  # fmt: skip
    assert got.thread_id == first.thread_of("<1@x>")


def test_parsed_reply_from_other_client_joins() -> None:
    root = parse_message(b"Message-ID: <r@x>\r\nSubject: Hi\r\nFrom: u@x\r\n\r\nhi")
    reply = parse_message(b"Message-ID: <q@y>\r\nIn-Reply-To: <r@x>\r\nSubject: AW: Hi\r\n\r\nok")
    threads = assign_threads([reply, root])
    assert threads["<r@x>"] == threads["<q@y>"]


@pytest.mark.parametrize(
    ("raw", "stripped"),
    [("Re: RE: AW: Fwd: Order", "Order"), ("Re[2]: x", "x"), ("SV:Sv: y", "y"),
     ("Reply needed", "Reply needed"), ("Re:", ""), ("Fw: Fwd: z", "z")],
)  # fmt: skip
def test_subject_prefixes(raw: str, stripped: str) -> None:
    assert strip_prefixes(raw) == stripped
    assert reply_subject(raw) == (f"Re: {stripped}" if stripped else "Re:")
    assert normalize_subject(raw.upper()) == stripped.casefold()
