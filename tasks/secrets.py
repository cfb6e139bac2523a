"""Keeping passwords out of everything users see: DSN masking and text redaction."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

MASK = "***"

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)(?P<password>[^@\s/]*)(?P<tail>@)")
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>'(?:[^'\\]|\\.)*'|[^\s]+)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#\s]*)", re.IGNORECASE)


def mask_dsn(text: str) -> str:
    """Replace every password in URLs (``user:pw@``), ``password=`` keywords and query strings.

    >>> mask_dsn("postgresql://app:s3cret@db:5432/prod")
    'postgresql://app:***@db:5432/prod'
    """
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['tail']}", text)
    text = _QUERY_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)


def passwords_in(dsn: str) -> list[str]:
    """The literal passwords a DSN carries (raw and URL-decoded), to redact from free text."""
    found: list[str] = []
    for pattern in (_URL_PASSWORD, _QUERY_PASSWORD, _KEYWORD_PASSWORD):
        for match in pattern.finditer(dsn):
            value = match["password"].strip("'")
            if value:
                found.extend({value, unquote(value)})
    return found


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask DSNs in ``text`` and remove every literal secret given (e.g. passwords_in(dsn))."""
    text = mask_dsn(text)
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
