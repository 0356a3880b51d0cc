"""The synthetic program: deterministic for a seed, meets the contract, and looks like a real program.

Figures from the design (shared/DESIGN.md); the ranges are wide enough for a 5,000-partner program's
sampling noise and narrow enough to catch a generator that drifted away from a real program's shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from features.contract import Program, load_program
from features.summary import ProgramSummary, summarize_program
from partner_churn.config import Config
from synthetic.oracle import oracle_deactivation_risk
from synthetic.program import generate_program

END = pd.Timestamp("2026-07-01", tz="UTC")


@pytest.fixture(scope="module")
def program(generated_dir: Path) -> Program:
    return load_program(generated_dir, Config().data, END)


@pytest.fixture(scope="module")
def summary(program: Program) -> ProgramSummary:
    return summarize_program(program.partners, program.events, END, Config())


def test_same_seed_same_program_other_seed_other_program() -> None:
    first, again, other = (generate_program(400, 4, seed=s) for s in (3, 3, 4))
    pd.testing.assert_frame_equal(first.partners, again.partners)
    assert first.events.equals(again.events)
    pd.testing.assert_frame_equal(first.actions, again.actions)
    assert first.latent.equals(again.latent)
    assert not first.events.equals(other.events)


def test_generated_program_meets_the_contract(program: Program) -> None:
    assert len(program.partners) == 5_000
    assert program.quarantined == {}
    assert program.actions is not None and {"onboarding_call", "personal_contact"} <= set(program.actions["action"])
    assert program.events["ts"].min() >= program.partners["signup_at"].min()


def test_signups_spread_over_the_period_and_grow(program: Program) -> None:
    per_quarter = program.partners["signup_at"].dt.tz_localize(None).dt.to_period("Q").value_counts().sort_index()
    assert len(per_quarter) == 6
    assert per_quarter.iloc[-1] > 1.5 * per_quarter.iloc[0]


def test_activation_rate_in_range(summary: ProgramSummary) -> None:
    assert 0.05 <= summary.activation_rate <= 0.15


def test_onboarding_call_raises_activation(program: Program) -> None:
    calls = program.actions[program.actions["action"] == "onboarding_call"]
    contacted = set(calls.loc[~calls["holdout"], "partner_id"])
    held_out = set(calls.loc[calls["holdout"], "partner_id"])
    sellers = set(program.events.loc[program.events["event_type"] == "sale", "partner_id"].astype(str))
    ids = program.partners["partner_id"]
    not_called = set(ids) - contacted - held_out
    rate = {name: len(group & sellers) / len(group) for name, group in [("contacted", contacted), ("not_called", not_called), ("held_out", held_out)]}
    assert rate["contacted"] > 1.5 * rate["not_called"]
    assert rate["contacted"] > 1.5 * rate["held_out"]


def test_top_five_percent_hold_most_revenue(summary: ProgramSummary) -> None:
    assert 0.45 <= summary.top5_revenue_share <= 0.85


def test_segment_mix_is_roughly_the_design_mix(summary: ProgramSummary) -> None:
    share = summary.segment_mix["share_of_partners"]
    assert 0.02 <= share["star"] <= 0.08
    assert 0.12 <= share["workhorse"] <= 0.35
    assert 0.45 <= share["newbie"] <= 0.75
    assert 0.05 <= share["sleeper"] <= 0.25
    revenue = summary.segment_mix["share_of_revenue"]
    assert revenue["star"] > 0.2 and revenue["star"] > revenue["newbie"] and revenue["sleeper"] < 0.05


def test_funnel_ratios(summary: ProgramSummary) -> None:
    counts = summary.events_by_type["events"]
    assert counts["click"] > counts["lead"] > counts["sale"] > 0
    assert 0.03 <= summary.click_to_lead <= 0.12
    assert 0.15 <= summary.lead_to_sale <= 0.5


def test_sale_amounts_are_heavy_tailed(program: Program) -> None:
    amounts = program.events.loc[program.events["event_type"] == "sale", "amount"].to_numpy()
    top_share = np.sort(amounts)[::-1][: len(amounts) // 100].sum() / amounts.sum()
    assert top_share > 0.08  # the top 1% of sales carry far more than 1% of revenue
    assert np.quantile(amounts, 0.99) > 8 * np.median(amounts)


def test_weekly_seasonality(program: Program) -> None:
    clicks = program.events.loc[program.events["event_type"] == "click", "ts"]
    by_weekday = clicks.dt.dayofweek.value_counts(normalize=True).sort_index()
    assert by_weekday[[5, 6]].mean() < 0.9 * by_weekday[[0, 1, 2, 3]].mean()


def test_payouts_follow_requests_with_a_delay(program: Program) -> None:
    events = program.events
    requested = events[events["event_type"] == "payout_requested"].groupby("partner_id", observed=True)["ts"].min()
    paid = events[events["event_type"] == "payout_paid"].groupby("partner_id", observed=True)["ts"].min()
    both = pd.concat([requested, paid], axis=1, keys=["requested", "paid"]).dropna()
    delay_days = (both["paid"] - both["requested"]).dt.days
    assert len(both) > 50 and (delay_days >= 2).all() and delay_days.median() >= 5


def test_some_dormant_partners_come_back(generated_dir: Path) -> None:
    latent = pq.read_table(generated_dir / "latent.parquet", columns=["partner_id", "state"]).to_pandas()
    state = latent["state"].astype(str).to_numpy()
    same_partner = latent["partner_id"].to_numpy()[1:] == latent["partner_id"].to_numpy()[:-1]
    woke = same_partner & (state[:-1] == "dormant") & (state[1:] != "dormant")
    fell = same_partner & (state[:-1] != "dormant") & (state[1:] == "dormant")
    assert fell.sum() > 500 and 0.1 < woke.sum() / fell.sum() < 0.9


def test_oracle_is_good_but_not_clairvoyant(program: Program, generated_dir: Path) -> None:
    """The design: the generator's own hazard should reach a 30-day deactivation ROC-AUC of about 0.75-0.90."""
    latent = pq.read_table(generated_dir / "latent.parquet").to_pandas()
    qualifying = program.events[program.events["event_type"].isin(Config().labels.qualifying_event_types)]
    cutoff, horizon = pd.Timestamp("2026-03-01", tz="UTC"), pd.Timedelta(days=30)
    active = qualifying.loc[(qualifying["ts"] >= cutoff - horizon) & (qualifying["ts"] < cutoff), "partner_id"]
    active = pd.Index(active.astype(str).unique())
    later = set(qualifying.loc[(qualifying["ts"] >= cutoff) & (qualifying["ts"] < cutoff + horizon), "partner_id"].astype(str))
    deactivated = np.array([partner not in later for partner in active])
    risk = oracle_deactivation_risk(latent, cutoff, 30).reindex(active)
    assert risk.notna().all()
    assert 0.1 < deactivated.mean() < 0.4
    assert 0.75 <= roc_auc_score(deactivated, risk) <= 0.92
    assert abs(risk.mean() - deactivated.mean()) < 0.06  # roughly calibrated too
