"""CI output and links (issue 15, items 3, 5, 6): trigger's stream without tracebacks or Prefect's
echoes of our expected failures, the /api hint, one flow-run link form, the dead-man's wording."""

from __future__ import annotations

from migration_guard.deployments.automations import SILENCE_BODY, failure_body
from migration_guard.deployments.trigger import SeenLogs, missing_api_suffix, without_traceback
from migration_guard.flows.prefect_api import flow_run_ui_url, ui_base_url

TRACE = ("Encountered exception during execution: ConfigError('bad')\nTraceback (most recent call last):\n"
         '  File "x.py", line 1, in f\n    raise ConfigError("bad")\nmigration_guard.tasks.errors.ConfigError: bad\n')


def test_tracebacks_are_cut_to_the_exception_line():
    text = without_traceback(TRACE)
    assert "Traceback" not in text and "File " not in text
    assert text.endswith("migration_guard.tasks.errors.ConfigError: bad")
    assert without_traceback("plain line") == "plain line"


def test_echoes_of_our_failures_are_left_out_but_bugs_are_printed():
    seen = SeenLogs()
    assert seen.is_echo(without_traceback(TRACE))
    assert seen.is_echo("Task run failed with exception: X('m') migration_guard.tasks.migrate.apply.X: m", "t1")
    assert seen.is_echo("Finished in state Failed('Task run encountered an exception X: m')", "t1")
    assert not seen.is_echo("Finished in state Failed('Task run encountered an exception KeyError')", "t2")
    assert not seen.is_echo("Task run failed with exception: KeyError('k') KeyError: 'k'", "t2")
    assert not seen.is_echo("safe-migrate failed at apply: migration x failed")


def test_api_url_without_api_is_recognised():
    assert missing_api_suffix("http://127.0.0.1:4200")
    assert missing_api_suffix("http://127.0.0.1:4200/")
    assert not missing_api_suffix("http://127.0.0.1:4200/api")
    assert not missing_api_suffix("https://api.prefect.cloud/api/accounts/a/workspaces/w")


def test_one_link_form_everywhere():
    assert ui_base_url("http://h:4200/api") == "http://h:4200"
    assert flow_run_ui_url("abc", "http://h:4200/") == "http://h:4200/runs/flow-run/abc"
    body = failure_body("http://h:4200")
    assert "Flow run: http://h:4200/runs/flow-run/{{ flow_run.id }}" in body
    assert "{{ flow_run|ui_url }}" in failure_body(None)


def test_dead_mans_switch_says_finished_not_completed():
    assert "has finished (Completed or Failed)" in SILENCE_BODY
    assert "has completed" not in SILENCE_BODY
