"""Checksums the way migration tools compute them."""

from __future__ import annotations

import hashlib


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256, Prisma's migration checksum."""
    return hashlib.sha256(data).hexdigest()


def line_ending_variants(data: bytes) -> frozenset[str]:
    """Checksums of the LF and CRLF forms of ``data``: an edit of line endings only is not a change."""
    lf = data.replace(b"\r\n", b"\n")
    crlf = lf.replace(b"\n", b"\r\n")
    return frozenset({sha256_hex(lf), sha256_hex(crlf)})
