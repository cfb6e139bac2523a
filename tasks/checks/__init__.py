"""The one check kernel both check suites are built on: the healthcheck suite
(``tasks/healthcheck``: OK / WARNING / CRITICAL / UNKNOWN, alerts) and the validate suite
(``tasks/validate``: PASS / WARN / FAIL / SKIP, "can we migrate now?").

- ``check``: :class:`~.check.Check` (name, description, run, applies, why) and the kernel's
  :class:`~.check.Verdict` (PASS / WARN / FAIL / UNKNOWN / SKIP).
- ``result``: :class:`~.result.Result` (one run of one check: verdict, output, failure, timing)
  and :class:`~.result.Failure` (a check that could not run, classified and redacted).
- ``registry``: :class:`~.registry.Registry`, the ordered list of a suite's checks.
- ``runner``: :func:`~.runner.run_check` (one check, isolated and timed) and
  :func:`~.runner.check_applies`.
- the catalog reads both suites judge are the foundation's (``tasks/catalog.py``: e.g.
  ``invalid_indexes``, which says which are being built now).
- ``fixes``: the fix texts both suites suggest (the same words in an alert and a validate fix).

The kernel imports nothing from the suites. Each suite maps the kernel's verdicts to its own
public statuses at report time (``tasks/healthcheck/base.STATUS_OF_VERDICT``,
``tasks/validate/model.STATUS_OF_VERDICT``); their names, statuses, JSON and alert fingerprints
are stable output and do not change.

Where the two suites judge the same thing differently, on purpose:

- A check that could not run (its query failed, a bug): healthcheck says UNKNOWN (monitoring must
  not page, nor resolve an alert, on what it does not know); validate says FAIL (a gate fails
  closed: "not verified" is "not safe to migrate").
- The checks after an unreachable database: healthcheck reports them UNKNOWN (their alerts stay
  untouched); validate reports them SKIP (the verdict is already FAIL, on connectivity).
- An INVALID index (``catalog.invalid_indexes``): healthcheck warns (MEDIUM: writes pay for it, no
  outage) and skips indexes being built right now (invalid until the build ends, not debris);
  validate FAILs on both (migrating now would re-run into the debris, or queue behind the
  build). Neither ever suggests dropping an index a live session is building: validate says to
  wait for that session (``fixes.wait_for_index_build``).
- Quoting in fix texts: healthcheck spells names as PostgreSQL prints them (``quoted_if_needed``),
  validate always quotes (``quoted``); both paste as exactly one statement on that object.
"""
