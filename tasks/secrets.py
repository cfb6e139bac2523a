"""Keeping passwords out of everything users see: DSN masking and text redaction."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

MASK = "***"

#: what to tell a user whose URL carries reserved characters unencoded in its user or password
URL_ENCODE_HINT = (
    "URL-encode the user and password (`@` → `%40`, `#` → `%23`, `/` → `%2F`, `?` → `%3F`), "
    "e.g. python3 -c 'import urllib.parse,getpass; print(urllib.parse.quote(getpass.getpass(), safe=\"\"))', "
    "or, for DATABASE_URL, leave the password out of the URL and give it in DATABASE_PASSWORD (taken as is)"
)

_URL_START = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://")
_AUTHORITY_END = re.compile(r"[/?#]")

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)(?P<password>[^@\s/]*)(?P<tail>@)")
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>'(?:[^'\\]|\\.)*'|[^\s]+)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#\s]*)", re.IGNORECASE)


def unparseable_userinfo(dsn: str) -> str | None:
    """The user-info of a URL DSN that carries reserved characters unencoded (a password with
    ``/``, ``?``, ``#`` or ``@`` in it), which no URL parser splits correctly; None otherwise.

    ``postgresql://app:abc/def@db/app`` → ``app:abc/def``. The user-info is taken up to the last
    ``@`` of the URL, so nothing of the password is left outside it.
    """
    match = _URL_START.match(dsn.strip())
    if not match:
        return None
    rest = dsn.strip()[match.end():]
    first_at = rest.find("@")
    if first_at < 0:
        return None
    before = rest[:first_at]
    # a second '@' anywhere (``p@ss#word@host``: the '#' hides it from the authority) means one of
    # them is unencoded; a query value holding '@' must be written %40 too, which libpq decodes
    broken = (":" in before and _AUTHORITY_END.search(before) is not None) or "@" in rest[first_at + 1:]
    return rest[: rest.rfind("@")] if broken else None


def repaired_dsn(dsn: str) -> str:
    """``dsn`` with an unparseable user-info (see :func:`unparseable_userinfo`) percent-encoded, so its
    host, port and database can be read; other DSNs unchanged."""
    userinfo = unparseable_userinfo(dsn)
    if userinfo is None:
        return dsn
    text = dsn.strip()
    scheme_end = _URL_START.match(text).end()  # type: ignore[union-attr]
    user, _, password = userinfo.partition(":")
    encoded = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return text[:scheme_end] + encoded + text[scheme_end + len(userinfo):]


def _mask_broken_urls(text: str) -> str:
    """Replace the whole user-info of every unparseable URL in ``text`` by the mask."""
    out, position = [], 0
    for match in _URL_START.finditer(text):
        if match.start() < position:
            continue
        token_end = len(text)
        whitespace = re.search(r"\s", text[match.end():])
        if whitespace:
            token_end = match.end() + whitespace.start()
        userinfo = unparseable_userinfo(text[match.start():token_end])
        if userinfo is None:
            continue
        out.append(text[position:match.end()] + MASK)
        position = match.end() + len(userinfo)
    out.append(text[position:])
    return "".join(out)


#: a token holding ``:`` then, later, ``@`` (``postgres//app:pw@db``, ``postgresql:/app:pw@db``): a
#: connection URL whose ``://`` is mistyped, so the URL patterns above miss its password
_SCHEMELESS_USERINFO = re.compile(r"(?P<head>(?<!\S)[^\s:@]*:)(?P<password>\S*)(?P<tail>@[^\s@]*)")


def _mask_mistyped_urls(text: str) -> str:
    """Mask from the first ``:`` to the last ``@`` of every whitespace-free token not written
    ``scheme://`` (the user-info of a URL with a mistyped scheme separator)."""
    def masked(match: re.Match[str]) -> str:
        if "://" in match[0] or match["password"] == MASK:
            return match[0]
        return f"{match['head']}{MASK}{match['tail']}"

    return _SCHEMELESS_USERINFO.sub(masked, text)


def mask_dsn(text: str) -> str:
    """Replace every password in URLs (``user:pw@``), ``password=`` keywords and query strings; the
    whole user-info of a URL that does not parse (reserved characters left unencoded).

    >>> mask_dsn("postgresql://app:s3cret@db:5432/prod")
    'postgresql://app:***@db:5432/prod'
    >>> mask_dsn("postgresql://app:abc/s3cret@db:5432/prod")
    'postgresql://***@db:5432/prod'
    >>> mask_dsn("postgres//app:s3cret@db/prod")
    'postgres//app:***@db/prod'
    """
    text = _mask_broken_urls(text)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['tail']}", text)
    text = _mask_mistyped_urls(text)
    text = _QUERY_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)


def passwords_in(dsn: str) -> list[str]:
    """The literal passwords a DSN carries (raw and URL-decoded), to redact from free text."""
    found: list[str] = []
    userinfo = unparseable_userinfo(dsn)
    if userinfo is not None:
        password = userinfo.partition(":")[2] or userinfo
        pieces = [p for p in re.split(r"[/?#@:]", password) if len(p) >= 4]
        found.extend({password, unquote(password), *pieces})
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
