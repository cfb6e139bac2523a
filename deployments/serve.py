"""One long-running process serving every deployment (small setups: no work pool, no worker).

Run it with `migration-guard serve-deployments` or `python -m migration_guard.deployments.serve`.
Stopping it pauses the served deployments' schedules (Prefect's behaviour); start it again to
resume them. It refuses to serve a deployment `migration-guard deploy` registered for a worker
(same name): serving would take it over and stopping serve would pause it.
"""

from __future__ import annotations

import sys

from migration_guard.deployments.register import refuse_other_mode, runner_deployments_for_serve


def serve_deployments(blocks_name: str = "default", only: tuple[str, ...] = (), limit: int | None = None) -> None:
    """Serve the prefect.yaml deployments from this process until interrupted.

    Args:
        blocks_name: block documents the runs read.
        only: serve just these deployment names (empty = all).
        limit: maximum concurrent flow runs in this process (None = no limit).
    """
    from prefect import serve

    deployments, missing = runner_deployments_for_serve(blocks_name, only)
    for entrypoint in missing:
        print(f"skipped {entrypoint}: flow not installed", file=sys.stderr)
    if not deployments:
        raise SystemExit("no deployment to serve")
    refuse_other_mode([f"{d.flow_name}/{d.name}" for d in deployments], "serve")
    serve(*deployments, limit=limit, print_starting_message=True)


if __name__ == "__main__":
    serve_deployments(*(sys.argv[1:2] or ["default"]))
