"""deploy/prometheus/alerts.yml: well formed, covering the conditions that break the promise,
and built only from series that /metrics really serves. Where promtool is installed (CI
installs Debian's prometheus package), it checks the rules and the scrape configuration and
runs the rules' unit tests (alerts.test.yml)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.metrics_text import TOKEN, scrape

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
# The conditions the issue names, each with the alert that watches it.
REQUIRED = {
    "CloseloopOwedPastSLA": ("closeloop_notifications_owed_past_sla", "15m"),
    "CloseloopReconcilerNotRunning": ("closeloop_reconciler_last_success_timestamp_seconds", None),
    "CloseloopNoLiveWorker": ("closeloop_rq_workers", "2m"),
    "CloseloopSendingPaused": ("closeloop_sending_paused", None),
    "CloseloopWebhookRefusalsRising": ("closeloop_webhook_refusals_total", None),
}


@pytest.fixture(scope="module")
def rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    assert set(doc) == {"groups"}
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_rule_is_a_complete_alert(rules):
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert DURATION.match(rule.get("for", "0s")), rule["alert"]
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_the_promise_breakers_are_all_watched(rules):
    by_name = {rule["alert"]: rule for rule in rules}
    for alert, (series, wait) in REQUIRED.items():
        assert series in by_name[alert]["expr"], alert
        assert by_name[alert].get("for") == wait, alert
    assert "> 300" in by_name["CloseloopReconcilerNotRunning"]["expr"]  # five minutes


def test_every_series_in_the_rules_is_served_by_metrics(rules, make_app):
    served = scrape(make_app(METRICS_TOKEN=TOKEN).test_client()).names()
    used = {name for rule in rules for name in re.findall(r"\bcloseloop_[a-z0-9_]+", rule["expr"])}
    assert used and used <= served, sorted(used - served)


def _promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.skip("promtool is not installed (apt-get install prometheus); structure checked")
    return found


def _run(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_promtool_accepts_the_rules_and_their_unit_tests_pass():
    promtool = _promtool()
    out = _run(promtool, "check", "rules", str(RULES), cwd=ROOT)
    assert "8 rules found" in out
    out = _run(promtool, "test", "rules", "alerts.test.yml", cwd=RULES.parent)
    assert "SUCCESS" in out


def test_promtool_accepts_the_scrape_configuration(tmp_path):
    promtool = _promtool()
    # The token file is a compose secret at run time; here a stand-in of our own.
    token = tmp_path / "metrics_token"
    token.write_text(TOKEN)
    config = (RULES.parent / "prometheus.yml").read_text()
    assert config.count("/run/secrets/metrics_token") == 2
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/run/secrets/metrics_token", str(token))
    )
    shutil.copy(RULES, tmp_path / "alerts.yml")
    out = _run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert "SUCCESS" in out
