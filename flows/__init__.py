"""Prefect flows, one module each; the `migration-guard` CLI (``cli/``) runs them."""
