"""One email as the matcher reads it: the sender, the subject, the body text and the signature.

Parsed with the standard library's ``email`` package, so RFC 2047 headers
(``=?utf-8?q?Zo=C3=AB?=``), quoted-printable and base64 bodies and any charset Python knows are
decoded. Its ``compat32`` policy, with only From and Subject decoded (``email.header``): the
modern ``default`` policy parses every header again on each access, which alone cost 3 ms per
email. A body part in a charset Python does not know is read as UTF-8 with
replacement characters rather than failing the email: a matcher must say "no match", never
crash, on a badly made message.

HTML parts are reduced to their text (tags dropped, ``<script>``/``<style>`` skipped, entities
decoded). Attachments (any part with a ``Content-Disposition: attachment``, or not text) are
ignored. Quoted lines of a reply (``> ...``) are left out of ``body``: the products a customer
quotes back from an older message are not what this one is about.

The signature is the text after the RFC 3676 delimiter line ``-- `` when there is one, else the
last ``SIGNATURE_LINES`` non-empty lines of the body.
"""

from __future__ import annotations

import email
import email.errors
import email.utils
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from html.parser import HTMLParser

SIGNATURE_LINES = 6
# Text beyond this many characters is not scanned: a matcher reads what an email is about, and
# a 10 MB log pasted into one must not cost seconds.
MAX_TEXT = 100_000


@dataclass(frozen=True)
class Mail:
    """What matching looks at. ``sender`` is the From address, lowercased ('' when there is
    none); ``sender_name`` its display name; ``body`` the text of every text part (HTML as
    text), quoted reply lines left out; ``signature`` a tail of ``body`` (see the module)."""

    sender: str
    sender_name: str
    subject: str
    body: str
    signature: str

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2] if "@" in self.sender else ""


def parse_mail(raw: bytes) -> Mail:
    """The ``Mail`` in the bytes of an RFC 5322 message (an ``.eml`` file). Never raises on a
    malformed message: what cannot be decoded is read as empty or with replacement characters."""
    message = email.message_from_bytes(raw)
    sender, sender_name = _sender(message)
    subject = _header(message, "Subject")
    texts = [_part_text(part) for part in _text_parts(message)]
    full = "\n".join(t for t in texts if t)[:MAX_TEXT]
    body = "\n".join(line for line in full.splitlines() if not line.lstrip().startswith(">"))
    return Mail(sender=sender, sender_name=sender_name, subject=subject, body=body,
                signature=_signature(body))


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        text = str(value)  # an unknown charset or a broken encoded word: read it as it is
    return " ".join(text.split())


def _sender(message: Message) -> tuple[str, str]:
    """(address lowercased, display name) of From, else of Sender, else ('', '')."""
    for name in ("From", "Sender"):
        text = _header(message, name)
        if not text:
            continue
        display, address = email.utils.parseaddr(text)
        if "@" in address:
            return address.strip().lower(), display.strip()
    return "", ""


def _text_parts(message: Message) -> list[Message]:
    """The text/plain and text/html parts that are not attachments; of a
    multipart/alternative only one (its plain part when it has one)."""
    if message.is_multipart():
        parts: list[Message] = []
        payload = message.get_payload()
        for part in payload if isinstance(payload, list) else []:
            if not isinstance(part, Message):
                continue
            parts.extend(_alternative(part) if part.get_content_type() == "multipart/alternative"
                         else _text_parts(part))
        return parts
    if message.get_content_maintype() != "text" or \
            message.get_content_disposition() == "attachment":
        return []
    return [message] if message.get_content_subtype() in ("plain", "html") else []


def _alternative(part: Message) -> list[Message]:
    # The plain part of an alternative is usually the same text; reading both would count
    # every mention twice, which is harmless for scores but doubles the work.
    found = _text_parts(part)
    plain = [p for p in found if p.get_content_subtype() == "plain"]
    return plain[:1] or found[:1]


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)  # undoes quoted-printable and base64
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        text = payload.decode("utf-8", errors="replace")
    return html_text(text) if part.get_content_subtype() == "html" else text


class _TextOfHtml(HTMLParser):
    SKIP = frozenset({"script", "style", "head", "title"})
    BREAK = frozenset({"br", "p", "div", "tr", "li", "td", "th", "table", "h1", "h2", "h3",
                       "h4", "h5", "h6", "blockquote", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0
        self.quoting = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag == "blockquote":  # a quoted reply, as '>' lines are in plain text
            self.quoting += 1
        if tag in self.BREAK:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag == "blockquote" and self.quoting:
            self.quoting -= 1
        if tag in self.BREAK:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping and not self.quoting:
            self.chunks.append(data)


def html_text(markup: str) -> str:
    """The text of an HTML document, one line per block element, quoted replies left out."""
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).splitlines())
    return "\n".join(line for line in lines if line)


def _signature(body: str) -> str:
    lines = body.splitlines()
    for number in range(len(lines) - 1, -1, -1):
        if lines[number].rstrip("\r") in ("-- ", "--"):
            return "\n".join(lines[number + 1:]).strip()
    kept = [line for line in lines if line.strip()]
    return "\n".join(kept[-SIGNATURE_LINES:])
