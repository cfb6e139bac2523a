"""Prefect flows (one module each) and the `migration-guard` CLI that runs them."""
