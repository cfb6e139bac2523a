"""Alerts: the seed's alert JSON with a lifecycle (fingerprint, firing/resolved, reminders).

- ``model``: the :class:`Alert` record and its JSON shape (plain data).
- ``lifecycle``: decisions on plain data: what a new observation or a resolution does, when to notify.
- ``store``: one JSON file per alert in ALERTS_DIR, atomic writes, corrupt files set aside.
- ``slack`` / ``webhook``: payload builders (snapshot-tested) and senders.
- ``notify``: sends to every configured channel; never raises.
- ``api``: :func:`fire_alert` / :func:`resolve_alerts`, what flows call.
"""
