"""What a stored object's metadata may hold, checked on the way in and again on the way out.

`mimetype` and `cacheControl` are sent back as the Content-Type and Cache-Control of every
download, signed URLs included. A value with a CR/LF (or any control character) there made the
server drop the connection on every later download of that object, so a member could make their
own recording unplayable for their manager. Uploads are refused with a clear 400 when a value is
not strict; downloads re-check what the row holds (rows written before this check, or by hand)
and fall back to safe defaults instead of emitting it.
"""

from __future__ import annotations

import re

# Every pattern is used with fullmatch: `$` would also match before a trailing newline.

# RFC 6838 restricted names: type "/" subtype, each a letter or digit then up to 126 of these.
_NAME = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"{_NAME}/{_NAME}")
# A parameter: token "=" token, or a quoted string of printable ASCII without quote/backslash.
_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_PARAMETER = re.compile(rf'({_TOKEN})=({_TOKEN}|"[ !#-\[\]-~]*")')
# Seconds, as Storage's `cacheControl` form field and tus metadata take it.
_SECONDS = re.compile(r"[0-9]{1,10}")
_STORED_CACHE_CONTROL = re.compile(r"max-age=[0-9]{1,10}")
DEFAULT_CACHE_SECONDS = "3600"
DEFAULT_MEDIA_TYPE = "application/octet-stream"
FALLBACK_CACHE_CONTROL = "no-cache"


class InvalidMetadata(ValueError):
    """A metadata value this stack will not store; the message names the field and the rule."""


def media_type(value: str) -> str:
    """`Type/Sub; Charset=UTF-8` → `type/sub; charset=UTF-8`, or InvalidMetadata."""
    essence, *parameters = value.split(";")
    normalised = essence.strip().lower()
    if not _MEDIA_TYPE.fullmatch(normalised):
        raise InvalidMetadata(
            f"content type {value!r} is not a media type of the form type/subtype"
        )
    for parameter in parameters:
        name, eq, rest = parameter.strip().partition("=")
        match = _PARAMETER.fullmatch(f"{name.strip().lower()}{eq}{rest.strip()}")
        if match is None:
            raise InvalidMetadata(f"content type {value!r} has a malformed parameter")
        normalised += f"; {match[1]}={match[2]}"
    return normalised


def cache_seconds(value: str | None) -> str:
    """The `cacheControl` an upload gives (seconds), defaulting as Storage does."""
    if value is None or value == "":
        return DEFAULT_CACHE_SECONDS
    if not _SECONDS.fullmatch(value):
        raise InvalidMetadata("cacheControl must be a whole number of seconds")
    return value


def stored_cache_control(value: object) -> str:
    """The Cache-Control header for a stored `cacheControl`, never anything but max-age=N."""
    if isinstance(value, str) and _STORED_CACHE_CONTROL.fullmatch(value):
        return value
    return FALLBACK_CACHE_CONTROL


def stored_media_type(value: object) -> str:
    """The Content-Type header for a stored `mimetype`; a value that fails the upload check
    is served as opaque bytes rather than emitted."""
    if not isinstance(value, str):
        return DEFAULT_MEDIA_TYPE
    try:
        return media_type(value)
    except InvalidMetadata:
        return DEFAULT_MEDIA_TYPE
