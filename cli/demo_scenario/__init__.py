"""The `migration-guard demo` scenario: a throw-away database and Prisma project that reproduce the
seed's incident (a payment-tracking migration failing halfway on real data)."""
