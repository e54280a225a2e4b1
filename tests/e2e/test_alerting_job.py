"""The alerting job on real AlertManager + Prometheus: every check passes on the rendered config; a
user's config with a production receiver or a broken route fails before any server starts."""

import pytest
import yaml

from pipelines.definitions import defs
from resources.alerting import render_alertmanager_config
from tests.conftest import LeakWatch, run_ephemeral

STACK_CHECKS = {"alert_visible_fast", "severity_routing", "silence_suppresses",
                "prometheus_to_alertmanager"}


def _run(state_dir, config_file=None):
    ops = {"alerting__alertmanager_config": {"config": {"config_file": str(config_file)}}} \
        if config_file else {}
    return run_ephemeral(
        defs.resolve_job_def("alerting"), raise_on_error=False,
        run_config={"resources": {"testbed": {"config": {"state_dir": str(state_dir)}}},
                    "ops": ops})


def _checks(result) -> dict[str, tuple[bool, str]]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": (e.passed, e.description or "")
            for e in result.get_asset_check_evaluations()}


def _user_config(tmp_path, edit) -> str:
    """A user's alertmanager.yml whose test receivers point at `{webhook}` (this environment's)."""
    config = render_alertmanager_config("{webhook}")
    edit(config)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.e2e
def test_alerting_job_passes_every_check_and_leaves_nothing(state_dir):
    watch = LeakWatch(state_dir)
    result = _run(state_dir)
    checks = _checks(result)
    assert result.success, checks
    assert all(passed for passed, _ in checks.values()), checks
    assert {key.split(":")[1] for key in checks if key.startswith("alerting/stack")} == STACK_CHECKS
    assert watch.leaks() == []


@pytest.mark.e2e
def test_a_production_webhook_fails_sec_checks_and_nothing_starts(state_dir, tmp_path):
    def production(config):
        config["receivers"][2]["webhook_configs"][0]["url"] = "https://events.pagerduty.com/v2/enqueue"

    watch = LeakWatch(state_dir)
    result = _run(state_dir, _user_config(tmp_path, production))
    checks = _checks(result)
    assert not result.success
    passed, message = checks["alerting/alertmanager_config:no_production_receivers"]
    assert not passed
    assert "receiver test-critical posts to https://events.pagerduty.com: not a loopback test " \
           "endpoint" in message
    assert not any(key.startswith("alerting/stack") for key in checks)  # never loaded
    assert watch.leaks() == []


@pytest.mark.e2e
def test_a_broken_route_fails_config_valid_with_amtools_message(state_dir, tmp_path):
    def broken(config):
        config["route"]["routes"][0]["receiver"] = "team-oncall"

    result = _run(state_dir, _user_config(tmp_path, broken))
    passed, message = _checks(result)["alerting/alertmanager_config:config_valid"]
    assert not result.success and not passed
    assert 'undefined receiver "team-oncall" used in route' in message


def test_a_missing_config_file_is_named_before_anything_starts(state_dir, tmp_path):
    watch = LeakWatch(state_dir)
    result = _run(state_dir, tmp_path / "nope.yml")
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.cause.message
    assert "config_file:" in failure and "nope.yml is not a readable file" in failure
    assert watch.leaks() == []
