"""Alert channels as Prefect notification blocks, used by the automations `migration-guard deploy`
creates (flow failed or crashed, healthcheck silent for 2 hours).

We do not define our own block types here: Prefect's server runs the automation's
``SendNotification`` action and must import the block class, so we use classes every Prefect
server can load — prefect-slack's ``SlackWebhook`` (slack_sdk; works with any URL, which is what
the tests use) and Prefect core's ``CustomWebhookNotificationBlock`` for a generic JSON webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:  # Prefect imports stay inside functions (CLI start-up time)
    from prefect.blocks.abstract import NotificationBlock

    from migration_guard.tasks.settings import Settings

SLACK_CHANNEL_NAME = "migration-guard-slack"
WEBHOOK_CHANNEL_NAME = "migration-guard-webhook"

WEBHOOK_JSON_BODY = {
    "source": "migration-guard",
    "subject": "{{subject}}",
    "body": "{{body}}",
}


@dataclass(frozen=True)
class ChannelRef:
    """A saved alert channel: its block type slug, document name and id."""

    block_type_slug: str
    name: str
    block_document_id: Any

    @property
    def slug(self) -> str:
        return f"{self.block_type_slug}/{self.name}"


def alert_channels_from_settings(settings: Settings) -> list[tuple[str, NotificationBlock]]:
    """(block name, unsaved notification block) for each channel configured in ``settings``.

    SLACK_WEBHOOK_URL becomes prefect-slack's ``SlackWebhook``; ALERT_WEBHOOK_URL becomes a
    ``CustomWebhookNotificationBlock`` that POSTs ``{"source", "subject", "body"}`` as JSON.
    A bot token alone has no notification block: the healthcheck's own Slack sender covers it.
    """
    channels: list[tuple[str, NotificationBlock]] = []
    if settings.slack_webhook_url is not None:
        from prefect_slack import SlackWebhook

        channels.append((SLACK_CHANNEL_NAME, SlackWebhook(url=settings.slack_webhook_url)))
    if settings.alert_webhook_url is not None:
        channels.append((WEBHOOK_CHANNEL_NAME, generic_webhook(settings.alert_webhook_url.get_secret_value())))
    return channels


def generic_webhook(url: str) -> NotificationBlock:
    """A Prefect core notification block that POSTs the subject and body as JSON to ``url``.

    Private addresses are allowed on purpose: the URL is configured by the operator, and internal
    alert routers (Alertmanager, PagerDuty bridges) usually live on private networks.
    """
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    return CustomWebhookNotificationBlock(
        name="migration-guard",
        url=url,
        method="POST",
        json_data=dict(WEBHOOK_JSON_BODY),
        allow_private_urls=True,
    )


def channel_values_from_blocks(slack_block: str | None = None, webhook_block: str | None = None) -> dict[str, Any]:
    """Settings values (``slack_webhook_url``, ``alert_webhook_url``) read from the saved channel blocks.

    The flows' own structured alerts (Block Kit to Slack, the alert JSON to the webhook) go to the
    URLs these blocks hold, so a worker whose environment holds only PREFECT_API_URL still alerts.

    Args:
        slack_block: name of a SlackWebhook block named in the project block; None = the
            conventional ``migration-guard-slack`` (skipped silently when it does not exist).
        webhook_block: name of a custom-webhook block; None = ``migration-guard-webhook`` (same).

    Raises:
        ConfigError: a block named explicitly does not exist, or a block cannot be read.
    """
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect_slack import SlackWebhook

    values: dict[str, Any] = {}
    slack = _load_channel(SlackWebhook, slack_block or SLACK_CHANNEL_NAME, required=slack_block is not None)
    if slack is not None:
        values["slack_webhook_url"] = slack.url
    webhook = _load_channel(CustomWebhookNotificationBlock, webhook_block or WEBHOOK_CHANNEL_NAME,
                            required=webhook_block is not None)
    if webhook is not None and webhook.url:
        values["alert_webhook_url"] = SecretStr(str(webhook.url))
    return values


def _load_channel(block_class: Any, name: str, *, required: bool) -> Any | None:
    from migration_guard.tasks.errors import ConfigError

    try:
        return block_class.load(name, _sync=True)
    except ValueError as exc:
        if "Unable to find block document" not in str(exc) and "not found" not in str(exc).lower():
            raise ConfigError(f"alert channel block {name!r} is invalid: {exc}") from None
        if not required:
            return None
        raise ConfigError(
            f"alert channel block {name!r} (named in the project block) does not exist on the Prefect API",
            "run `migration-guard deploy` with SLACK_WEBHOOK_URL / ALERT_WEBHOOK_URL set (it saves "
            f"{SLACK_CHANNEL_NAME} / {WEBHOOK_CHANNEL_NAME}), or fix the name in the project block",
        ) from None
    except Exception as exc:  # the API is down or refuses us
        raise ConfigError(
            f"could not load alert channel block {name!r}: {type(exc).__name__}",
            "check PREFECT_API_URL (prefect config view) and that the Prefect server is running",
        ) from None


def save_alert_channels(settings: Settings, overwrite: bool = True) -> list[ChannelRef]:
    """Save every configured channel as a block document; return references for automations."""
    saved: list[ChannelRef] = []
    for name, block in alert_channels_from_settings(settings):
        document_id = block.save(name, overwrite=overwrite, _sync=True)
        saved.append(ChannelRef(block.get_block_type_slug(), name, document_id))
    return saved
