"""Generic JSON webhook (PagerDuty-style consumers): payload with the fingerprint as dedup key."""

from __future__ import annotations

import time
from typing import Any

from migration_guard.tasks.alerts.lifecycle import Event
from migration_guard.tasks.alerts.model import Alert

MAX_ATTEMPTS = 3
MAX_RETRY_AFTER = 30.0


class WebhookError(Exception):
    """The webhook did not accept the payload (never carries the URL)."""


def build_webhook_payload(alert: Alert, event: Event) -> dict[str, Any]:
    """``{dedup_key, event_action: trigger|resolve, event, severity, summary, alert}``."""
    return {
        "dedup_key": alert.fingerprint,
        "event_action": "resolve" if event is Event.RESOLVED else "trigger",
        "event": event.value,
        "severity": alert.severity.value,
        "summary": f"[{alert.severity.value}] {alert.title} ({alert.database}, {alert.environment})",
        "source": "migration-guard",
        "alert": alert.to_json(),
    }


def send_webhook(url: str, payload: dict[str, Any], timeout: float = 10.0, sleep=time.sleep) -> int:
    """POST the payload as JSON; retry 429 (honouring Retry-After), 5xx and connection errors.

    Returns the HTTP status. Raises WebhookError after the last attempt.
    """
    import httpx

    last = ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            response = httpx.post(url, json=payload, timeout=timeout, headers={"User-Agent": "migration-guard"})
        except httpx.HTTPError as exc:
            last = f"connection failed ({type(exc).__name__})"
            if isinstance(exc, httpx.TimeoutException):
                break  # a hung endpoint already cost `timeout`; retrying triples it (the next run retries)
            delay = float(attempt)
        else:
            if response.status_code < 300:
                return response.status_code
            last = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                break
            delay = _retry_after(response.headers.get("Retry-After"), default=float(attempt))
        if attempt < MAX_ATTEMPTS:
            sleep(delay)
    raise WebhookError(f"alert webhook failed: {last}")


def _retry_after(value: str | None, default: float) -> float:
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value is not None else default
    except ValueError:
        return default
