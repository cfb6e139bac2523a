"""`migration-guard serve`: a small HTTP endpoint for load balancers, uptime monitors and dashboards.

- ``GET /health``: health+json (status pass / warn / fail, checks keyed ``database:check`` with
  observedValue / observedUnit); 200 for pass and warn, 503 for fail. Cached ``--cache-seconds``.
- ``GET /alerts``: every alert's JSON (``?status=firing`` for firing only).
- ``DELETE /alerts`` (resolved ones; ``?all=true`` every alert) and ``DELETE /alerts/{id}``:
  need ``Authorization: Bearer $ALERTS_API_TOKEN``; 401 without it (always, when it is unset).

Errors answer a fixed JSON message; internal details go to the server log only.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import typer

from migration_guard.cli.output import console, handle_errors

logger = logging.getLogger("migration_guard.serve")


class HealthCache:
    """The last health report, recomputed at most every ``ttl`` seconds (one run at a time)."""

    def __init__(self, settings: Any, ttl: float) -> None:
        self.settings = settings
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = 0.0
        self._value: tuple[int, dict[str, Any]] | None = None

    def get(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.ttl:
                self._value = self._compute()
                self._at = time.monotonic()
            return self._value

    def _compute(self) -> tuple[int, dict[str, Any]]:
        from migration_guard.tasks.errors import MigrationGuardError
        from migration_guard.tasks.healthcheck.pipeline import run_healthcheck

        try:
            report = run_healthcheck(self.settings, record=False)
        except MigrationGuardError as exc:
            logger.error("health: configuration problem: %s", exc.message)
            return 503, {"status": "fail", "output": "configuration error; see the server log"}
        health = report.to_health_json()
        return (503 if health["status"] == "fail" else 200), health


def build_server(settings: Any, host: str = "127.0.0.1", port: int = 8080, cache_seconds: float = 30.0,
                 request_timeout: float = 30.0) -> ThreadingHTTPServer:
    """The HTTP server (not started): ``server.serve_forever()``; port 0 picks a free port.

    A client that does not finish its request within ``request_timeout`` seconds is disconnected,
    so idle connections cannot pile up threads.
    """
    cache = HealthCache(settings, cache_seconds)

    class Handler(BaseHTTPRequestHandler):
        server_version = "migration-guard"
        timeout = request_timeout
        sys_version = ""

        def do_GET(self) -> None:
            self._guarded(self._get)

        def do_DELETE(self) -> None:
            self._guarded(self._delete)

        def _guarded(self, handler) -> None:
            try:
                handler()
            except Exception:  # noqa: BLE001 - never echo internal errors to the client
                logger.exception("%s %s failed", self.command, urlsplit(self.path).path)
                self._send(500, {"error": "internal error"})

        def _get(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/health":
                status, body = cache.get()
                self._send(status, body, "application/health+json")
            elif url.path == "/alerts":
                from migration_guard.tasks.alerts.api import list_alerts

                only_firing = parse_qs(url.query).get("status", [""])[0] == "firing"
                alerts, _ = list_alerts(settings, include_resolved=not only_firing)
                self._send(200, {"alerts": [a.to_json() for a in alerts]})
            else:
                self._send(404, {"error": "not found"})

        def _delete(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/alerts" and not url.path.startswith("/alerts/"):
                self._send(404, {"error": "not found"})
                return
            if not self._authorized():
                self._send(401, {"error": "missing or wrong bearer token"}, extra={"WWW-Authenticate": "Bearer"})
                return
            from migration_guard.tasks.alerts.api import delete_alert, delete_alerts

            if url.path == "/alerts":
                everything = parse_qs(url.query).get("all", [""])[0].lower() in {"1", "true", "yes"}
                self._send(200, {"deleted": delete_alerts(settings, include_firing=everything)})
                return
            alert_id = url.path.removeprefix("/alerts/")
            if delete_alert(settings, alert_id):
                self._send(200, {"deleted": [alert_id]})
            else:
                self._send(404, {"error": "no such alert"})

        def _authorized(self) -> bool:
            token = settings.alerts_api_token
            given = self.headers.get("Authorization", "")
            if token is None or not given.startswith("Bearer "):
                return False
            return hmac.compare_digest(given.removeprefix("Bearer ").encode(), token.get_secret_value().encode())

        def _send(self, status: int, body: dict[str, Any], content_type: str = "application/json",
                  extra: dict[str, str] | None = None) -> None:
            payload = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Cache-Control", "no-store")
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            logger.info("%s - %s", self.address_string(), format % args)

    return ThreadingHTTPServer((host, port), Handler)


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8080, "--port", "-p", help="Port to listen on."),
    cache_seconds: float = typer.Option(30.0, "--cache-seconds", help="Re-run the checks for /health at most this often."),
) -> None:
    """Serve GET /health (health+json; 200 pass/warn, 503 fail), GET /alerts, and DELETE /alerts,
    DELETE /alerts/{id} (Authorization: Bearer $ALERTS_API_TOKEN; 401 without it).

    Runs until interrupted. Exit codes: 0 stopped; 1 cannot listen; 2 bad configuration.
    """
    _serve(ctx.obj, host, port, cache_seconds)


@handle_errors()
def _serve(options, host: str, port: int, cache_seconds: float) -> None:
    from migration_guard.tasks.errors import MigrationGuardError

    settings = options.settings()
    try:
        server = build_server(settings, host, port, cache_seconds)
    except OSError as exc:
        raise MigrationGuardError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                                  "pick another --port or stop what uses it") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    console.print(f"serving http://{host}:{server.server_address[1]}/health and /alerts (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
