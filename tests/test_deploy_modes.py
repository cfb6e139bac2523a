"""deploy + worker and serve-deployments cannot clobber each other (issue 15, item 2): each refuses
the other's deployments, naming the registered mode and how to switch."""

from __future__ import annotations

import pytest

from migration_guard.tasks.errors import ConfigError

pytestmark = [pytest.mark.prefect]


def test_serve_refuses_deployments_registered_for_a_worker(prefect_harness):
    from migration_guard.deployments.register import refuse_other_mode, register_deployments

    report = register_deployments("modes-a", only=("validate",))
    assert report.deployments == ["validate/modes-a"]
    with pytest.raises(ConfigError) as refused:
        refuse_other_mode(["validate/modes-a"], "serve")
    assert "registered by `migration-guard deploy` (work pool migration-guard" in refused.value.message
    assert "prefect deployment delete validate/modes-a" in refused.value.suggestion
    refuse_other_mode(["validate/modes-a"], "deploy")  # the same mode again is fine
    refuse_other_mode(["validate/not-registered"], "serve")


def test_deploy_refuses_deployments_a_serve_process_registered(prefect_harness):
    from migration_guard.deployments.register import register_deployments, runner_deployments_for_serve

    (served,), _ = runner_deployments_for_serve("modes-b", only=("validate",))
    served.apply()
    with pytest.raises(ConfigError) as refused:
        register_deployments("modes-b", only=("validate",))
    assert "registered by `migration-guard serve-deployments`" in refused.value.message
    assert "stop serve-deployments, then prefect deployment delete validate/modes-b" in refused.value.suggestion
