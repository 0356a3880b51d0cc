"""Actions chosen by measured saved revenue (retention/measured.py): who gets the measured action, the value
it is ranked by, the rule kept where there is no evidence, and the actions never replaced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from partner_churn.config import Config
from retention.actions import action_columns, load_action_table
from retention.measured import MEASURED, RULE, choose_measured_actions, keep_basis_of_given_actions, saved_revenue
from training.uplift import MeasuredActions, fit_action_uplift

TABLE = load_action_table(Config().scoring)


def check_in_log(n: int = 4000, seed: int = 1) -> pd.DataFrame:
    """Workhorses contacted by phone: the call keeps the ones whose activity dropped (engaged < 0), not the others."""
    rng = np.random.default_rng(seed)
    engaged = rng.normal(size=n)
    holdout = rng.random(n) < 0.2
    p_kept = 0.5 + np.where(~holdout & (engaged < 0), 0.4, 0.0)
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 300, n)), unit="D")
    return pd.DataFrame({"ts": ts, "engaged": engaged, "holdout": holdout, "kept": (rng.random(n) < p_kept).astype(float)})


@pytest.fixture(scope="module")
def measured() -> MeasuredActions:
    model = fit_action_uplift(check_in_log(), "personal_check_in", ["engaged"], [], seed=1)
    return MeasuredActions(
        models={"personal_check_in": model},
        segments={"personal_check_in": ["workhorse", "star"]},
        revenue_if_kept={"personal_check_in": {"workhorse": 200.0, "star": 900.0}},
        effects=pd.DataFrame({"action": ["personal_check_in"]}),
        evaluations=[],
        measured_through="2026-10-01T00:00:00+00:00",
    )


def scored_rows() -> pd.DataFrame:
    """Six partners: a slowing workhorse with revenue, a steady one, one slowing without revenue yet, a
    slowing newbie (never measured), a slowing workhorse whose commission is overdue, and a workhorse far
    more slowed than any the log measured the call on."""
    frame = pd.DataFrame(
        {
            "partner_id": ["slowing", "steady", "no_revenue", "newbie", "owed", "unlike_any"],
            "segment": ["workhorse", "workhorse", "workhorse", "newbie", "workhorse", "workhorse"],
            "engaged": [-1.5, 1.5, -1.5, -1.5, -1.5, -8.0],
            "expected_revenue": [500.0, 500.0, 0.0, 0.0, 500.0, 500.0],
            "deactivation_risk": [0.2, 0.05, 0.2, 0.3, 0.2, 0.2],
            "upgrade_potential": [0.1] * 6,
            "risk_band": ["low", "low", "low", "medium", "low", "low"],
            "potential_band": ["low"] * 6,
            "commission_overdue": [False, False, False, False, True, False],
            "no_onboarding_activity": [False] * 6,
            "falling_trend": [False] * 6,
            "downgrade_warning": [False] * 6,
        }
    )
    return frame


def test_the_measured_action_goes_where_it_saves_most_and_the_rule_stays_elsewhere(measured: MeasuredActions) -> None:
    rows = scored_rows()
    rules = action_columns(rows, TABLE, "en")
    values = saved_revenue(rows, measured, TABLE, min_uplift=0.03)["personal_check_in"]
    uplift = measured.models["personal_check_in"].uplift(rows)
    assert uplift[0] > 0.25 and abs(uplift[1]) < 0.1  # the model learned who the call keeps
    assert values[0] == pytest.approx(uplift[0] * 500.0 - 15.0)  # the partner's own revenue at stake, net of the call
    assert values[2] == pytest.approx(uplift[2] * 200.0 - 15.0)  # no revenue yet: what kept workhorses brought in
    assert np.isnan(values[3])  # never measured on newbies: no figure
    assert np.isnan(values[1])  # an uplift under min_uplift counts as none: no call bought by a model's noise
    assert uplift[5] > 0.25 and np.isnan(values[5])  # outside the log's range the model's uplift is an extrapolation: none

    chosen = choose_measured_actions(rows, rules, TABLE, measured, "en", keep_rule_actions=["unpaid_commission_reminder"], min_uplift=0.03)
    assert list(chosen["action_basis"]) == [MEASURED, RULE, MEASURED, RULE, RULE, RULE]
    assert list(chosen["action"][[0, 2]]) == ["personal_check_in", "personal_check_in"]
    assert chosen["action_title"][0] == TABLE.action("personal_check_in").title.en and chosen["channel"][0] == "phone"
    assert chosen["expected_saved_revenue"][0] == pytest.approx(values[0])
    assert np.isnan(chosen["expected_saved_revenue"][[1, 3, 4, 5]]).all()
    for row in (1, 3, 5):  # steady (the call saves less than it costs), the newbie, the one unlike any measured: the rule's action, untouched
        assert chosen["action"][row] == rules["action"][row]
    assert chosen["action"][4] == rules["action"][4] == "unpaid_commission_reminder"


def test_without_measured_actions_every_action_is_the_rules(measured: MeasuredActions) -> None:
    rows = scored_rows()
    rules = action_columns(rows, TABLE, "en")
    for nothing in (None, MeasuredActions({}, {}, {}, pd.DataFrame(), [], "")):
        chosen = choose_measured_actions(rows, rules, TABLE, nothing, "en", keep_rule_actions=[], min_uplift=0.03)
        assert list(chosen["action"]) == list(rules["action"]) and set(chosen["action_basis"]) == {RULE}
        assert np.isnan(chosen["expected_saved_revenue"]).all()


def test_a_measured_action_taken_back_for_capacity_is_the_rules_again(measured: MeasuredActions) -> None:
    rows = scored_rows()
    chosen = choose_measured_actions(rows, action_columns(rows, TABLE, "en"), TABLE, measured, "en", keep_rule_actions=[], min_uplift=0.03)
    given = {name: np.asarray(values).copy() for name, values in chosen.items() if name not in ("action_basis", "expected_saved_revenue")}
    given["action"][0] = "group_support"  # the personal contact did not fit: the segment's automated series
    kept = keep_basis_of_given_actions(chosen, given)
    assert kept["action_basis"][0] == RULE and np.isnan(kept["expected_saved_revenue"][0])
    assert kept["action_basis"][2] == MEASURED and kept["expected_saved_revenue"][2] > 0


def test_measured_actions_saved_and_loaded_choose_the_same(measured: MeasuredActions, tmp_path: Path) -> None:
    measured.save(tmp_path / "measured")
    loaded = MeasuredActions.load(tmp_path / "measured")
    rows = scored_rows()
    assert loaded.segments == measured.segments and loaded.revenue_if_kept == measured.revenue_if_kept
    assert np.array_equal(
        saved_revenue(rows, loaded, TABLE, min_uplift=0.03)["personal_check_in"],
        saved_revenue(rows, measured, TABLE, min_uplift=0.03)["personal_check_in"],
        equal_nan=True,
    )
