"""Prefect deployments: prefect.yaml, schedules, serve entry point, the CI trigger."""
