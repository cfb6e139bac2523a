"""Slack: Block Kit message for an alert event (plain function, snapshot-tested) and the sender.

Incoming webhook (``SLACK_WEBHOOK_URL``, slack_sdk ``WebhookClient``) or bot token + channel
(``SLACK_BOT_TOKEN`` + ``SLACK_CHANNEL``, ``WebClient.chat_postMessage``). Both retry on HTTP 429
honouring Retry-After (slack_sdk's ``RateLimitErrorRetryHandler``) and on connection errors.
"""

from __future__ import annotations

from typing import Any

from migration_guard.tasks.alerts.lifecycle import Event
from migration_guard.tasks.alerts.model import Alert, iso

SEVERITY_EMOJI = {"HIGH": ":red_circle:", "MEDIUM": ":large_orange_circle:", "LOW": ":large_yellow_circle:"}
EVENT_PREFIX = {
    Event.NEW: "",
    Event.ESCALATED: "Escalated: ",
    Event.REMINDER: "Still firing: ",
    Event.RESOLVED: "Resolved: ",
}
_SECTION_LIMIT = 2900  # Slack rejects section text over 3000 characters
_HEADER_LIMIT = 150


class SlackError(Exception):
    """Slack did not accept the message (status or API error; never carries the webhook URL)."""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_slack_message(alert: Alert, event: Event) -> dict[str, Any]:
    """``{"text": fallback, "blocks": [...]}`` for one alert event."""
    resolved = event is Event.RESOLVED
    emoji = ":white_check_mark:" if resolved else SEVERITY_EMOJI.get(alert.severity.value, ":warning:")
    headline = f"{EVENT_PREFIX[event]}{alert.title}"
    fields = [
        f"*Severity*\n{alert.severity.value}",
        f"*Category*\n{alert.category}",
        f"*Database*\n{_escape(alert.database)}",
        f"*Environment*\n{_escape(alert.environment)}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(f"{emoji} {headline}", _HEADER_LIMIT), "emoji": True}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if resolved:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            f"The problem is gone (resolved {iso(alert.resolved_at)}, first seen {iso(alert.first_seen)}, "
            f"seen {alert.occurrences} time(s)).\n>{_escape(alert.message)}", _SECTION_LIMIT)}})
    else:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(_escape(alert.message), _SECTION_LIMIT)}})
        if alert.impact:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
                f"*Impact*\n{_escape(alert.impact)}", _SECTION_LIMIT)}})
        if alert.suggestions:
            steps = "\n".join(f"{n}. `{_escape(s)}`" if _looks_like_command(s) else f"{n}. {_escape(s)}"
                              for n, s in enumerate(alert.suggestions, 1))
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
                f"*What to do*\n{steps}", _SECTION_LIMIT)}})
        details = [f"component {alert.component}", f"check {alert.check}", f"fingerprint {alert.fingerprint}",
                   f"occurrences {alert.occurrences}", f"first seen {iso(alert.first_seen)}"]
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(" · ".join(details))}]})
        if alert.original_error:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
                f"*Technical details*\n```{_escape(alert.original_error)}```", _SECTION_LIMIT)}})
    if alert.flow_run_url:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Open the Prefect flow run"},
            "url": alert.flow_run_url}]})
    fallback = f"[{alert.severity.value}] {headline} ({alert.database}, {alert.environment})"
    return {"text": fallback, "blocks": blocks}


def _looks_like_command(text: str) -> bool:
    return text.startswith(("migration-guard ", "SELECT ", "psql ", "pg_", "ALTER ", "DROP ", "REINDEX ",
                            "VACUUM ", "prisma ", "npx "))


def _retry_handlers() -> list[Any]:
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

    return [ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3)]


def send_via_webhook(url: str, message: dict[str, Any], timeout: int = 10) -> None:
    """Post to an incoming webhook. Raises SlackError when Slack does not answer 200."""
    from slack_sdk.webhook import WebhookClient

    client = WebhookClient(url, timeout=timeout, retry_handlers=_retry_handlers())
    response = client.send(text=message["text"], blocks=message["blocks"])
    if response.status_code != 200:
        raise SlackError(f"Slack webhook answered HTTP {response.status_code}: {str(response.body)[:200]}")


def send_via_bot(token: str, channel: str, message: dict[str, Any], base_url: str | None = None,
                 timeout: int = 10) -> None:
    """``chat.postMessage`` with a bot token. Raises SlackError on an API error."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    kwargs: dict[str, Any] = {"token": token, "timeout": timeout, "retry_handlers": _retry_handlers()}
    if base_url:
        kwargs["base_url"] = base_url if base_url.endswith("/") else base_url + "/"
    try:
        WebClient(**kwargs).chat_postMessage(channel=channel, text=message["text"], blocks=message["blocks"])
    except SlackApiError as exc:
        raise SlackError(f"Slack API error: {exc.response.get('error', exc.response.status_code)}") from None
