from __future__ import annotations

from omnidesk.services.mail.imap_blocking import _parse_fetch, uid_ranges


def test_uid_ranges() -> None:
    assert uid_ranges([9, 1, 2, 3, 7, 10, 3]) == "1:3,7,9:10"
    assert uid_ranges([5]) == "5"
    assert uid_ranges([]) == ""


def test_parse_fetch_handles_items_after_literal_and_unsolicited() -> None:
    data: list[object] = [
        (b"1 (UID 4 MODSEQ (12) BODY[] {3}", b"abc"),
        b" FLAGS (\\Seen \\Flagged))",
        b"2 (FLAGS (\\Deleted))",  # unsolicited, no UID: ignored
        b"3 (UID 9 FLAGS ())",
    ]
    got = _parse_fetch(data)
    assert [(f.uid, sorted(f.flags), f.modseq, f.body) for f in got] == [
        (4, ["\\Flagged", "\\Seen"], 12, b"abc"),
        (9, [], None, None),
    ]
