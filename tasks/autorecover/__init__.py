"""Auto-recovery: what the healthcheck repairs on its own under ``AUTO_RECOVER=safe`` (off by
default: then the checks only alert, each with the exact command a person would run).

The safe classes, tried in this order on one database (``run.recover_database``):

1. ``locks``: the migration advisory lock (Prisma's or ours) held by an idle session past the
   ``stale_migration_lock`` threshold → that session is terminated. Never while a migration runs,
   never our own migrate's lock session while its applying session is connected, never a session
   whose state cannot be seen.
2. ``indexes``: an INVALID index a failed ``CREATE INDEX CONCURRENTLY`` left (never one a live
   session is building) → dropped concurrently and built again concurrently from the statement of
   the applied migration that creates it; only dropped when that migration is not applied. An
   index no migration on disk creates is left alone.
3. ``migrations``: the oldest failed migration, diagnosed by recover (replay in a shadow database
   when it can be built): nothing of it ran (a failed build's INVALID index aside) → recover's
   rollback plan marks it rolled back as ``prisma migrate resolve --rolled-back`` does (dropping that
   index first); something ran, the cause is gone and the replayed forward plan only runs the
   migration's own statements → recover's forward plan runs, with its backup and verification.

Each action is alerted before ("about to …", MEDIUM) and after (done: the alert resolves with what
was done; failed: it escalates to HIGH and stays firing, and the action is not tried again while
it fires). ``model`` holds the actions as data, ``alerts`` their alerts, ``report`` the markdown,
``memory`` the failed attempts left alone (not diagnosed again before AUTO_RECOVER_RECHECK).
"""
