"""`serve` over real HTTP: health+json with 200 / 503, alerts listing, bearer-protected deletes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.alerts.api import fire_alert, resolve_alerts
from tests.helpers import serving_alerts_api

TOKEN = "serve-token-31337"


def _call(url: str, method: str = "GET", token: str | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def _fire(settings, check: str) -> str:
    return fire_alert(settings, check=check, database="app", category="DATABASE_HEALTH", severity="LOW",
                      title=check, message="m", impact="i", suggestions=[], component="test").id


def test_health_pass_and_fail(tmp_path: Path, db_url: str) -> None:
    healthy = load_settings(database_url=db_url, alerts_dir=tmp_path)
    broken = load_settings(database_url="postgresql://app:Srv-Pw-99@127.0.0.1:1/app", alerts_dir=tmp_path)
    with serving_alerts_api(healthy) as base:
        ok_status, ok_headers, ok = _call(base + "/health")
    with serving_alerts_api(broken) as base:
        bad_status, _, bad = _call(base + "/health")

    assert ok_status == 200 and ok["status"] == "pass"
    assert ok_headers["Content-Type"] == "application/health+json"
    name = db_url.rsplit("/", 1)[1]
    assert ok["checks"][f"{name}:connectivity"][0]["observedUnit"] == "ms"
    assert ok["checks"][f"{name}:connections"][0]["observedValue"] >= 0
    assert bad_status == 503 and bad["status"] == "fail"
    assert bad["checks"]["app:connectivity"][0]["status"] == "fail"
    assert bad["checks"]["app:lock_waits"][0]["status"] == "warn"  # UNKNOWN: not checked
    assert "Srv-Pw-99" not in json.dumps(bad)


def test_alerts_endpoints_and_bearer_token(tmp_path: Path) -> None:
    settings = load_settings(alerts_dir=tmp_path, alerts_api_token=TOKEN)
    first, second, third = _fire(settings, "a"), _fire(settings, "b"), _fire(settings, "c")
    resolve_alerts(settings, check="b", database="app")
    with serving_alerts_api(settings) as base:
        listed = _call(base + "/alerts")
        firing = _call(base + "/alerts?status=firing")
        no_token = _call(base + "/alerts", "DELETE")
        wrong = _call(base + f"/alerts/{first}", "DELETE", token="guess")
        cleared = _call(base + "/alerts", "DELETE", token=TOKEN)
        one = _call(base + f"/alerts/{first}", "DELETE", token=TOKEN)
        gone = _call(base + f"/alerts/{first}", "DELETE", token=TOKEN)
        weird = _call(base + "/alerts/..%2F..%2Fetc", "DELETE", token=TOKEN)
        unknown = _call(base + "/nope")

    assert listed[0] == 200 and {a["id"] for a in listed[2]["alerts"]} == {first, second, third}
    assert {a["id"] for a in firing[2]["alerts"]} == {first, third}
    assert no_token[0] == 401 and wrong[0] == 401
    assert no_token[1]["WWW-Authenticate"] == "Bearer"
    assert cleared == (200, cleared[1], {"deleted": [second]})
    assert one[2] == {"deleted": [first]} and gone[0] == 404
    assert weird[0] == 404 and unknown[0] == 404
    assert [p.stem for p in tmp_path.glob("*.json")] == [third]


def test_deletes_are_refused_when_no_token_is_configured(tmp_path: Path) -> None:
    settings = load_settings(alerts_dir=tmp_path)
    alert_id = _fire(settings, "a")
    with serving_alerts_api(settings) as base:
        status, _, body = _call(base + f"/alerts/{alert_id}", "DELETE", token="anything")

    assert status == 401 and body == {"error": "missing or wrong bearer token"}
    assert (tmp_path / f"{alert_id}.json").exists()
