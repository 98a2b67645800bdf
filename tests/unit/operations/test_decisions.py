"""The pure decisions of the operator tools: registration plans, webhook judgement, silence,
coverage diagnosis, and the folding of dbt's JSON log."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from ticketing_pipeline.config import AccountConfig
from ticketing_pipeline.defs.loss_checks import (
    OnSaleWindow,
    judge_coverage,
    judge_silence,
    on_sale_hours,
)
from ticketing_pipeline.operations.accounts_check import Status, judge_eventbrite_webhooks
from ticketing_pipeline.operations.build import collect
from ticketing_pipeline.operations.platform_calls import EventbriteWebhook, mask_endpoint_url
from ticketing_pipeline.operations.webhook_registration import (
    REQUIRED_ACTIONS,
    Change,
    plan_registration,
)

ORG = "1234567890"
TOKEN = "tok-0123456789abcdef-ok"
ACCOUNT = AccountConfig(
    platform="eventbrite",
    account_id=ORG,
    display_name="Org",
    secret_env="EB_TOKEN",
    webhook_secret_env="EB_WEBHOOK_TOKEN",
)
URL = f"https://hooks.example.com/webhooks/eventbrite/{ORG}/{TOKEN}"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def webhook(
    id_: str, url: str = URL, actions=REQUIRED_ACTIONS, event_id: str | None = None
) -> EventbriteWebhook:
    return EventbriteWebhook(id_, url, frozenset(actions), event_id)


def test_mask_hides_only_the_token() -> None:
    assert mask_endpoint_url(URL) == f"https://hooks.example.com/webhooks/eventbrite/{ORG}/***"
    assert mask_endpoint_url("https://other.example.com/hook") == "https://other.example.com/hook"


def test_registration_plan_keeps_the_right_one_and_replaces_the_rest() -> None:
    foreign = webhook("1", "https://zapier.example.com/hook")
    assert plan_registration(ACCOUNT, URL, []).change is Change.CREATED
    assert plan_registration(ACCOUNT, URL, [foreign]).change is Change.CREATED
    same = plan_registration(ACCOUNT, URL, [foreign, webhook("2")])
    assert same.change is Change.UNCHANGED and same.keep.id == "2" and same.delete == []
    old_host = webhook("3", URL.replace("hooks.example.com", "old.example.com"))
    fewer_actions = webhook("4", actions=REQUIRED_ACTIONS[:3])
    moved = plan_registration(ACCOUNT, URL, [foreign, old_host, fewer_actions])
    assert moved.change is Change.UPDATED and moved.keep is None
    assert [w.id for w in moved.delete] == ["3", "4"]  # never another tool's webhook
    duplicate = plan_registration(ACCOUNT, URL, [webhook("5"), webhook("6")])
    assert duplicate.keep.id == "5" and [w.id for w in duplicate.delete] == ["6"]
    assert TOKEN not in moved.describe(dry_run=True)


@pytest.mark.parametrize(
    ("webhooks", "public_url", "status", "words"),
    [
        ([webhook("1")], "https://hooks.example.com", Status.OK, "webhook 1"),
        ([], None, Status.FAIL, "points at the receiver"),
        ([webhook("1", URL.replace(TOKEN, "retired-token-0123456"))], None, Status.FAIL, "401"),
        ([webhook("1")], "https://new.example.com", Status.FAIL, "not to the configured"),
        ([webhook("1", actions=["order.placed"])], None, Status.FAIL, "lacks the actions"),
        ([webhook("1", event_id="77")], None, Status.FAIL, "only covers event 77"),
    ],
)
def test_webhook_listing_judgement(webhooks, public_url, status, words) -> None:
    result = judge_eventbrite_webhooks(ACCOUNT, webhooks, {TOKEN}, public_url)
    assert result.status is status and words in result.detail
    assert TOKEN not in result.detail


def test_on_sale_hours_counts_overlaps_once() -> None:
    windows = [
        OnSaleWindow("a", "A", T0, T0 + timedelta(hours=10)),
        OnSaleWindow("b", "B", T0 + timedelta(hours=5), T0 + timedelta(hours=12)),
        OnSaleWindow("c", "C", T0 + timedelta(hours=20), T0 + timedelta(hours=22)),
    ]
    assert on_sale_hours(windows, T0, T0 + timedelta(hours=30)) == pytest.approx(14)
    assert on_sale_hours(windows, T0 + timedelta(hours=11), T0 + timedelta(hours=21)) == (
        pytest.approx(2)
    )


def test_silence_is_judged_against_the_accounts_own_rate() -> None:
    on_sale = [OnSaleWindow("e1", "Show", T0, T0 + timedelta(days=60))]
    # One order an hour for ten days.
    orders = [T0 + timedelta(hours=h) for h in range(240)]
    last = orders[-1]
    soon = judge_silence("acct", orders, on_sale, last + timedelta(hours=2))
    assert not soon.failed and soon.probability == pytest.approx(math.exp(-2 * soon.rate_per_hour))
    late = judge_silence("acct", orders, on_sale, last + timedelta(hours=10))
    assert late.failed and late.probability < 0.001
    assert [w.event_id for w in late.on_sale_now] == ["e1"]
    # Nothing on sale now: a silence means nothing.
    ended = [OnSaleWindow("e1", "Show", T0, last + timedelta(hours=1))]
    assert not judge_silence("acct", orders, ended, last + timedelta(hours=10)).failed
    # Too little history to judge.
    assert not judge_silence("acct", orders[:5], on_sale, last + timedelta(days=9)).failed


def test_coverage_diagnosis_names_the_first_likely_cause() -> None:
    changed = {str(i) for i in range(10)}
    common = {
        "deliveries_for_account": 3,
        "deliveries_any_account_recent": 9,
        "failed_deliveries": 0,
        "webhook_secret_set": True,
    }
    assert not judge_coverage("a", changed, changed, **common).failed
    assert not judge_coverage("a", {"1"}, set(), **common).failed  # too few to judge

    def diagnosis(**overrides) -> str:
        verdict = judge_coverage("a", changed, {"1"}, **{**common, **overrides})
        assert verdict.failed and verdict.covered == 1
        return verdict.diagnosis

    assert "secret is not set" in diagnosis(webhook_secret_set=False)
    assert "not registered right: gone" in diagnosis(webhook_listing_problem="gone")
    assert "receiver is down" in diagnosis(deliveries_any_account_recent=0)
    assert "sender" in diagnosis(deliveries_for_account=0)
    assert "failed to load" in diagnosis(failed_deliveries=2)
    assert "rejections" in diagnosis()


def test_collect_folds_dbt_json_events() -> None:
    def event(name: str, level: str = "info", msg: str = "", **data) -> str:
        return json.dumps({"info": {"name": name, "level": level, "msg": msg}, "data": data})

    node = {"unique_id": "test.p.unique_x", "node_name": "unique_x", "resource_type": "test"}
    lines = [
        event("MainReportVersion", msg="Running"),
        event(
            "LogModelResult",
            node_info={
                "unique_id": "model.p.m",
                "node_name": "m",
                "resource_type": "model",
                "node_status": "success",
            },
            execution_time=0.5,
            index=1,
            total=3,
        ),
        event(
            "LogTestResult",
            level="error",
            node_info={**node, "node_status": "fail"},
            num_failures=2,
            index=2,
            num_models=3,
        ),
        event(
            "SkippingDetails",
            node_info={
                "unique_id": "model.p.n",
                "node_name": "n",
                "resource_type": "model",
                "node_status": "skipped",
            },
            index=3,
            total=3,
        ),
        event("RunResultFailure", level="error", msg="Failure in test unique_x", node_info=node),
        event("RunResultError", level="error", msg="  Got 2 results", node_info=node),
        event("StatsLine", stats={"pass": 1, "error": 1, "skip": 1, "total": 3}),
        "Traceback (most recent call last):",
    ]
    seen = []
    result = collect(lines, seen.append)
    assert [n.name for n in seen] == ["m", "unique_x", "n"]
    [failed] = result.failed_nodes
    assert failed.name == "unique_x" and failed.failures == 2 and failed.message == "Got 2 results"
    assert result.stats == {"pass": 1, "error": 1, "skip": 1, "total": 3}
    assert result.errors == ["Traceback (most recent call last):"]


def test_registration_errors_never_carry_the_token(monkeypatch) -> None:
    from ticketing_pipeline.operations.webhook_registration import _without_tokens

    monkeypatch.setenv("EB_WEBHOOK_TOKEN", f"{TOKEN}, next-token-0123456789abcdef")
    echoed = f"HTTP 400 from /organizations/{ORG}/webhooks/: bad endpoint_url {URL}"
    masked = _without_tokens(echoed, ACCOUNT)
    assert TOKEN not in masked and masked.endswith(f"/webhooks/eventbrite/{ORG}/***")


def test_public_url_is_validated_and_normalised(tmp_path) -> None:
    from ticketing_pipeline.config import ConfigError, load_config

    good = tmp_path / "good.toml"
    good.write_text('[webhooks]\npublic_url = "https://hooks.example.com/base/"\n')
    assert load_config(good).webhooks.public_url == "https://hooks.example.com/base"
    bad = tmp_path / "bad.toml"
    bad.write_text('[webhooks]\npublic_url = "hooks.example.com?x=1"\n')
    with pytest.raises(ConfigError, match="public_url"):
        load_config(bad)
