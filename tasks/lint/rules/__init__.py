"""One lint rule per module; each defines ``RULE`` (see ``registry.RULE_MODULES``)."""
