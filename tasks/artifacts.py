"""Prefect artifact keys: one spelling rule for every artifact a flow publishes."""

from __future__ import annotations

import re


def artifact_key(prefix: str, name: str, *, fallback: str = "database") -> str:
    """``<prefix>-<slug of name>``: Prefect accepts lowercase letters, digits and dashes only.

    Runs of anything else become one dash; an empty slug becomes ``fallback``.
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-") or fallback
    return f"{prefix}-{slug}"
