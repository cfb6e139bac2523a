"""The healthcheck suite's checks: one module per check, listed in ``tasks/healthcheck/registry.py``."""
