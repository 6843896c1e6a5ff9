"""The account's signature images, read from disk and sent inline with each reply.

An agent writes the signature in HTML and points its logo at a file on this computer
(``<img src="file:///home/ana/logo.png">`` or an absolute path). Such a reference would
mean nothing to the customer, so before a reply is built each local image is read, given a
Content-ID, and referenced as ``cid:`` (RFC 2392); ``compose`` puts it in the reply's
``multipart/related``. Remote (``https:``) and ``cid:``/``data:`` sources are left alone.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import secrets
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlparse

from omnidesk.mail.types import MailAccount, SignatureImage

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 1_000_000
"""A signature logo larger than this is a mistake; it is left out rather than mailed."""
_LOCAL_SRC = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*)(["'])((?:file:|/)[^"']+)\2""", re.I)


def embed_signature_images(account: MailAccount) -> MailAccount:
    """The account with its local signature images inline. Blocking: run it in a thread."""
    images = list(account.signature_images)

    def inline(match: re.Match[str]) -> str:
        source = match.group(3)
        path = Path(unquote(urlparse(source).path) if source.startswith("file:") else source)
        content_type = mimetypes.guess_type(path.name)[0] or ""
        try:
            data = path.read_bytes() if content_type.startswith("image/") else b""
        except OSError as exc:
            log.warning("signature image %s left out: %s", path, exc)
            return match.group(0)
        if not data or len(data) > MAX_IMAGE_BYTES:
            log.warning("signature image %s left out: not an image or too large", path)
            return match.group(0)
        content_id = f"sig.{secrets.token_hex(8)}@{account.domain}"
        images.append(SignatureImage(content_id, content_type, data, path.name))
        return f"{match.group(1)}{match.group(2)}cid:{content_id}{match.group(2)}"

    html = _LOCAL_SRC.sub(inline, account.signature_html)
    if html == account.signature_html:
        return account
    return replace(account, signature_html=html, signature_images=tuple(images))
