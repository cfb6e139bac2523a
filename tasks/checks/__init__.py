"""Health checks: one module per check, listed in :mod:`.registry`; see ``base`` for the contract."""
