"""Send an alert event to every configured channel (Slack, generic webhook). Never raises:
a failed channel is logged (without its URL or token) and reported in the outcome."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from migration_guard.tasks.alerts.lifecycle import Event
from migration_guard.tasks.alerts.model import Alert
from migration_guard.tasks.alerts.slack import build_slack_message, send_via_bot, send_via_webhook
from migration_guard.tasks.alerts.webhook import build_webhook_payload, send_webhook
from migration_guard.tasks.secrets import redact

logger = logging.getLogger("migration_guard.alerts")

NO_CHANNEL = ("no alert channel configured (SLACK_WEBHOOK_URL, SLACK_BOT_TOKEN + SLACK_CHANNEL, ALERT_WEBHOOK_URL, "
              "or the migration-guard-slack / migration-guard-webhook blocks); sent on the next run that has one")


@dataclass
class NotifyOutcome:
    """Channels that accepted the event and channels that failed (with a safe reason)."""

    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def delivered(self) -> bool:
        """True when at least one channel accepted the event and none failed. With no channel
        configured nothing was delivered: the alert stays un-notified, so the first run that has a
        channel (e.g. once the channel blocks exist) sends it at once instead of at the next reminder."""
        return bool(self.sent) and not self.failed


def configured_channels(settings: Any) -> list[str]:
    """Names of the channels the settings enable: slack-webhook, slack-bot, webhook."""
    channels = []
    if settings.slack_webhook_url is not None:
        channels.append("slack-webhook")
    if settings.slack_bot_token is not None and settings.slack_channel:
        channels.append("slack-bot")
    if settings.alert_webhook_url is not None:
        channels.append("webhook")
    return channels


def notify(settings: Any, alert: Alert, event: Event, secrets: list[str] | None = None) -> NotifyOutcome:
    """Send ``event`` for ``alert`` to every configured channel; log and report failures."""
    outcome = NotifyOutcome()
    hidden = list(secrets or []) + _channel_secrets(settings)
    channels = configured_channels(settings)
    if not channels:
        outcome.failed["none"] = NO_CHANNEL
        logger.info("alert %s (%s) not sent: %s", alert.id, event.value, NO_CHANNEL)
    for channel in channels:
        try:
            _send(settings, channel, alert, event)
        except Exception as exc:  # noqa: BLE001 - a notification failure must never fail the caller
            reason = redact(f"{type(exc).__name__}: {exc}", hidden)[:300]
            outcome.failed[channel] = reason
            logger.warning("alert %s (%s) not sent to %s: %s", alert.id, event.value, channel, reason)
        else:
            outcome.sent.append(channel)
    return outcome


def _send(settings: Any, channel: str, alert: Alert, event: Event) -> None:
    if channel == "slack-webhook":
        send_via_webhook(settings.slack_webhook_url.get_secret_value(), build_slack_message(alert, event))
    elif channel == "slack-bot":
        send_via_bot(settings.slack_bot_token.get_secret_value(), settings.slack_channel,
                     build_slack_message(alert, event), base_url=settings.slack_api_url)
    elif channel == "webhook":
        send_webhook(settings.alert_webhook_url.get_secret_value(), build_webhook_payload(alert, event))


def _channel_secrets(settings: Any) -> list[str]:
    found = []
    for name in ("slack_webhook_url", "slack_bot_token", "alert_webhook_url"):
        value = getattr(settings, name, None)
        if value is not None:
            found.append(value.get_secret_value())
    return found
