"""Media URL policy: which user-supplied URLs may reach FFmpeg, and how URLs appear in logs.

Owns the scheme allow-lists (inputs vs. partner pushes), the refusal of anything FFmpeg could
read as an option or a local/compound protocol (``-f``, ``file:``, ``concat:``, ``pipe:``…),
and the masking of stream keys and credentials. A raw URL is never logged or listed: use
:func:`mask_url` for one URL and :class:`LogRedactor` for free text such as FFmpeg's stderr.

Private/loopback hosts are allowed on purpose: room cameras live on the library's LAN. Whether a
given deployment may reach a host is configuration, not URL syntax.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, unquote, urlsplit

from streaming.errors import InvalidMediaUrl

INPUT_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "srt", "http", "https"})
PUSH_SCHEMES = frozenset({"rtmp", "rtmps", "srt"})
MASK = "****"
MAX_URL_LENGTH = 2048

# RFC 3986 characters plus '%', minus the apostrophe. Everything else (space, "'", '|', '\\', '"',
# '<', '>', '{', '}', '^', '`', non-ASCII, control characters) must be percent-encoded by the
# user; refusing them keeps URLs inert inside FFmpeg's mini-languages (tee slave lists, quoting).
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]{1,63})*")
# Query keys whose values are tuning knobs, not secrets; every other value is masked.
_SAFE_QUERY_KEYS = frozenset(
    {"mode", "latency", "transtype", "pkt_size", "payload_size", "timeout", "maxbw", "tcp_nodelay"}
)
# Anything that looks like scheme://… in free text. Stops at whitespace and quotes (FFmpeg prints
# 'rtmp://…':) and at '|' (tee slave separator; validated URLs never contain it).
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>|]+")
_MIN_SECRET_LEN = 4


def validate_input_url(url: str, field: str = "input_url") -> str:
    """Return ``url`` if it may be an FFmpeg input (rtsp/rtsps/rtmp/rtmps/srt/http/https)."""
    return _validate(url, field, INPUT_SCHEMES)


def validate_push_url(url: str, field: str = "push_url") -> str:
    """Return ``url`` if it may be a partner push destination (rtmp/rtmps/srt)."""
    return _validate(url, field, PUSH_SCHEMES, push=True)


def _validate(url: object, field: str, schemes: frozenset[str], *, push: bool = False) -> str:
    if not isinstance(url, str):
        raise InvalidMediaUrl(field, "URL must be a string")
    if not url:
        raise InvalidMediaUrl(field, "URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidMediaUrl(field, f"URL is longer than {MAX_URL_LENGTH} characters")
    if url.startswith("-"):
        raise InvalidMediaUrl(field, "URL must not start with '-'")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidMediaUrl(field, "URL must not contain whitespace or control characters")
    if not _URL_CHARS.fullmatch(url):
        raise InvalidMediaUrl(field, "URL contains characters that must be percent-encoded")
    match = _SCHEME.match(url)
    allowed = ", ".join(sorted(schemes))
    if match is None:
        raise InvalidMediaUrl(field, f"URL needs a scheme ({allowed})")
    scheme = match.group(1).lower()
    if scheme not in schemes:
        # Deliberately generic: covers file:, concat:, pipe:, subfile:, data:, tee:, …
        raise InvalidMediaUrl(field, f"scheme '{scheme}' is not allowed here; use {allowed}")
    if not url[match.end() :].startswith("//"):
        raise InvalidMediaUrl(field, f"URL must look like {scheme}://host/…")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidMediaUrl(field, "URL has an invalid host or port") from exc
    _check_host(parts, field)
    if scheme == "srt" and port is None:
        raise InvalidMediaUrl(field, "srt URL needs a port (srt://host:port)")
    if port == 0:
        raise InvalidMediaUrl(field, "port 0 is not a valid destination")
    if push and scheme in {"rtmp", "rtmps"} and not _path_segments(parts):
        raise InvalidMediaUrl(field, "rtmp URL needs an application and stream key path")
    return url


def _check_host(parts: SplitResult, field: str) -> None:
    host = parts.hostname
    if not host:
        raise InvalidMediaUrl(field, "URL has no host")
    if parts.netloc.rsplit("@", 1)[-1].startswith("["):
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError as exc:
            raise InvalidMediaUrl(field, "URL has an invalid IPv6 host") from exc
        return
    if not _HOSTNAME.fullmatch(host) or host.startswith("-"):
        raise InvalidMediaUrl(field, "URL has an invalid host name")


def _path_segments(parts: SplitResult) -> list[str]:
    return [segment for segment in parts.path.split("/") if segment]


def mask_url(url: str) -> str:
    """Return ``url`` with credentials, stream keys and query secrets replaced by ``****``.

    Never raises: anything unparseable comes back fully masked. Strings without ``://`` that do
    not start with a scheme (plain file paths) are returned unchanged — paths are not secrets.
    """
    try:
        return _mask(url)
    except ValueError:
        return MASK


def _mask(url: str) -> str:
    if "://" not in url:
        match = _SCHEME.match(url)
        if match is None or url.startswith("/"):
            return url
        return f"{match.group(1).lower()}:{MASK}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    path = parts.path
    if scheme in {"rtmp", "rtmps", "rtmpt", "rtmpe", "rtmpte", "rtmpts"}:
        # rtmp://host/app/<stream key>: the first segment is the application, the rest the key.
        segments = path.split("/")
        if len(segments) > 2 and any(segments[2:]):
            path = "/".join([*segments[:2], MASK])
    query = (
        "&".join(_mask_query_item(item) for item in parts.query.split("&")) if parts.query else ""
    )
    masked = f"{scheme}://{netloc}{path}"
    if query:
        masked += f"?{query}"
    if parts.fragment:
        masked += f"#{MASK}"
    return masked


def _mask_query_item(item: str) -> str:
    key, sep, _value = item.partition("=")
    if not sep:
        return MASK if key else key
    if key.lower() in _SAFE_QUERY_KEYS:
        return item
    return f"{key}={MASK}"


def url_secrets(url: str) -> tuple[str, ...]:
    """The literal fragments of ``url`` that :func:`mask_url` hides (raw and percent-decoded).

    Used to redact a stream key even where FFmpeg prints it without its URL around it.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    found: list[str] = []
    if parts.username:
        found.append(parts.username)
    if parts.password:
        found.append(parts.password)
    if parts.scheme.lower().startswith("rtmp"):
        segments = parts.path.split("/")
        found.extend(segments[2:])
        if len(segments) > 2:
            found.append("/".join(segments[2:]))
    for item in parts.query.split("&") if parts.query else ():
        key, sep, value = item.partition("=")
        if not sep:
            found.append(key)
        elif key.lower() not in _SAFE_QUERY_KEYS:
            found.append(value)
    if parts.fragment:
        found.append(parts.fragment)
    secrets = {s for raw in found for s in (raw, unquote(raw)) if len(s) >= _MIN_SECRET_LEN}
    # Longest first so that a key is not half-replaced by one of its own substrings.
    return tuple(sorted(secrets, key=len, reverse=True))


class LogRedactor:
    """Masks URLs and known secret fragments in free text (FFmpeg stderr, argv for logs)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = tuple(sorted(set(secrets), key=len, reverse=True))

    @classmethod
    def from_argv(cls, argv: Iterable[str]) -> LogRedactor:
        """Collect the secrets of every URL-looking argument of a command line."""
        secrets: list[str] = []
        for arg in argv:
            for match in _URL_IN_TEXT.finditer(arg):
                secrets.extend(url_secrets(match.group(0)))
        return cls(secrets)

    def redact(self, text: str) -> str:
        text = _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def redact_argv(self, argv: Iterable[str]) -> list[str]:
        return [self.redact(arg) for arg in argv]
