"""Reasons in words: only drivers worth a manager's slot, the partner's and the typical partner's numbers,
grammar over every template in both languages, merged stories, and a real tiny model."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.schema import FIRST_EVENT_TYPES, RECENCY_TYPES, feature_schema
from partner_churn.config import Config, LightGBMConfig
from retention import reasons as reasons_module
from retention.reasons import (
    EARLY_HISTORY_DAYS,
    LOWER_QUARTILE_PREFIX,
    UPPER_QUARTILE_PREFIX,
    catalogue,
    describe_feature,
    fact_features,
    facts_for,
    has_template,
    reasons_for,
    reasons_from_contributions,
    template_family,
)
from retention.wording import (
    EVENTS,
    NOUNS,
    RU_GROUP_SEPARATOR,
    format_money,
    format_number,
    format_percent,
    plural_ru,
)
from training.model import MIN_QUARTILE_ROWS, TrainedModel, fit_model

RISK, GROWTH = "deactivation_risk", "upgrade_potential"
NB = RU_GROUP_SEPARATOR
MODEL_FEATURES = [
    "days_since_last_activity",
    "days_since_last_sale",
    "days_since_last_payout_request",
    "active_days_30",
    "sale_count_30d",
    "sale_count_90d",
    "click_trend_30d",
    "active_day_gap_mean",
    "recency_to_usual_gap",
    "pending_payout_amount",
    "revenue_30d",
    "partner_type",
]
RISKY = {
    "days_since_last_activity": 21.4,
    "days_since_last_sale": 21.4,
    "days_since_last_payout_request": 45.7,
    "active_days_30": 2,
    "sale_count_30d": 0,
    "sale_count_90d": 1,
    "click_trend_30d": -0.6,
    "active_day_gap_mean": 4.3,
    "recency_to_usual_gap": 21.4 / 4.3,
    "pending_payout_amount": 12_400.0,
    "revenue_30d": 0.0,
    "partner_type": "blogger",
}
SAFE = {
    **RISKY,
    "days_since_last_activity": 0.5,
    "days_since_last_sale": 1.2,
    "active_days_30": 25,
    "click_trend_30d": 0.5,
    "pending_payout_amount": 0.0,
    "recency_to_usual_gap": 0.5 / 4.3,
    "sale_count_30d": 9,
    "sale_count_90d": 30,
}


def tau_for_change(percent: float) -> float:
    """The (A - B) / (A + B) trend whose real change A / B - 1 is `percent`."""
    return percent / (200.0 + percent)


# -- a tiny real model ------------------------------------------------------------------------------------
def synthetic_rows(n: int, seed: int) -> pd.DataFrame:
    """Partners whose silence, falling clicks and old unpaid payouts drive risk; rising clicks drive growth."""
    rng = np.random.default_rng(seed)
    gap = rng.lognormal(1.2, 0.5, n)
    silent = rng.exponential(8, n)
    sale_recency = silent + rng.exponential(10, n)
    sale_recency[rng.random(n) < 0.15] = np.nan
    active = np.clip(np.round(30 / gap * np.exp(-silent / 20)), 0, 30)
    sales_30 = rng.poisson(active * 0.3)
    trend = rng.uniform(-1, 1, n)
    pending = np.where(rng.random(n) < 0.3, rng.lognormal(8, 1, n), 0.0)
    requested = rng.uniform(1, 90, n)
    risk = -2 + 0.12 * silent + 0.06 * np.nan_to_num(sale_recency, nan=60) - 0.1 * active - 1.5 * trend + 1.5 * ((pending > 3000) & (requested > 30))
    growth = -1.5 + 2.0 * trend + 0.08 * active - 0.1 * silent
    return pd.DataFrame(
        {
            "days_since_last_activity": silent,
            "days_since_last_sale": sale_recency,
            "days_since_last_payout_request": requested,
            "active_days_30": active,
            "sale_count_30d": sales_30,
            "sale_count_90d": sales_30 + rng.poisson(active * 0.6),
            "click_trend_30d": trend,
            "active_day_gap_mean": gap,
            "recency_to_usual_gap": silent / gap,
            "pending_payout_amount": pending,
            "revenue_30d": sales_30 * rng.lognormal(4, 0.5, n),
            "partner_type": rng.choice(["blogger", "agency", "individual"], n),
            "deactivated": (rng.random(n) < 1 / (1 + np.exp(-risk))).astype(float),
            "upgraded": (rng.random(n) < 1 / (1 + np.exp(-growth))).astype(float),
            "as_of": "2026-01-01",
        }
    )


def train(target: str, features: list[str]) -> TrainedModel:
    schema = [spec for spec in feature_schema(Config()) if spec.name in features]
    params = LightGBMConfig(n_estimators=30, early_stopping_rounds=5, num_threads=1)
    frames = [synthetic_rows(n, seed) for n, seed in ((3000, 1), (1000, 2), (1000, 3))]
    return fit_model(target, *frames, schema, params, calibration_method="sigmoid", seed=1)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def risk_model() -> TrainedModel:
    return train(RISK, MODEL_FEATURES)


def test_a_clearly_risky_partner_gets_three_reasons_with_its_own_and_the_typical_numbers(risk_model: TrainedModel) -> None:
    rows = pd.DataFrame([RISKY], index=[17])
    assert risk_model.predict(rows)[0] > 0.6
    typical = risk_model.typical["all"]
    (english,) = reasons_for(risk_model, rows)
    (russian,) = reasons_for(risk_model, rows, lang="ru")
    usual_silence = math.floor(typical["days_since_last_activity"])  # the training rows' median, whole days
    assert usual_silence >= 2 and typical["pending_payout_amount"] == 0
    assert english == [
        f"no activity for 21 days (typical: {usual_silence} days); usually every 4 days",  # 21.4 days -> 21; gap 4.3 -> 4
        "clicks fell 75% vs the previous month (typical: -1%)",  # trend -0.6: the last month is a quarter of the one before
        "unpaid commission 12,400 for 45 days (typical: none)",
    ]
    assert russian == [
        f"нет активности 21 день (типично: {usual_silence} {plural_ru(usual_silence, 'день', 'дня', 'дней')}); обычно — раз в 4 дня",
        "клики упали на 75\u00a0% к прошлому месяцу (типично: -1\u00a0%)",
        f"невыплаченная комиссия 12{NB}400 уже 45 дней (типично: нет)",
    ]
    assert "partner_type" in risk_model.features and not any("blogger" in text for text in english)


def test_reasons_follow_the_positive_contributions_in_order(risk_model: TrainedModel) -> None:
    rows = pd.DataFrame([RISKY, SAFE])
    contributions = risk_model.contributions(rows)
    got = reasons_for(risk_model, rows, k=10)
    for i, found in enumerate(got):
        positive = int((contributions[i] > reasons_module.MIN_CONTRIBUTION).sum())
        assert len(found) <= positive
    assert len(got[0]) >= 3
    assert reasons_for(risk_model, rows, k=1) == [found[:1] for found in got]


def test_contributions_are_computed_once_for_all_rows(risk_model: TrainedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = TrainedModel.contributions

    def counting(self: TrainedModel, frame: pd.DataFrame) -> np.ndarray:
        calls.append(len(frame))
        return original(self, frame)

    monkeypatch.setattr(TrainedModel, "contributions", counting)
    got = reasons_for(risk_model, pd.DataFrame([RISKY, SAFE, RISKY]))
    assert calls == [3] and len(got) == 3 and got[0] == got[2]
    assert reasons_for(risk_model, pd.DataFrame([RISKY]).iloc[:0]) == [] and calls == [3]


def test_fewer_positive_contributors_give_fewer_reasons_never_filler() -> None:
    model = train(RISK, ["days_since_last_activity", "click_trend_30d"])
    rows = pd.DataFrame([RISKY, SAFE])
    risky, safe = reasons_for(model, rows, k=3)
    contributions = model.contributions(rows)
    assert (contributions[0] > 0).all() and (contributions[1] < 0).all()
    assert [text.split(" (typical")[0] for text in risky] == ["no activity for 21 days", "clicks fell 75% vs the previous month"]
    assert safe == []


def test_an_upgrade_model_gives_reasons_to_grow_and_no_typical_rise() -> None:
    model = train(GROWTH, MODEL_FEATURES)
    assert abs(model.typical["all"]["click_trend_30d"]) < 0.05  # the typical partner's clicks are flat
    (found,) = reasons_for(model, pd.DataFrame([{**SAFE, "click_trend_30d": 0.8}]))  # nine times the month before
    assert "clicks up 9x vs the previous month (typical: -1%)" in found
    assert not any(text.startswith(("no activity for", "unpaid commission")) for text in found)
    (modest,) = reasons_for(model, pd.DataFrame([{**SAFE, "click_trend_30d": tau_for_change(20)}]))
    assert not any("clicks" in text for text in modest)  # +20% is inside the typical range: no slot


def test_training_keeps_each_segment_s_quartiles_around_its_median() -> None:
    """Brute force: every group's p25, median and p75 are numpy's percentiles of the training rows."""
    schema = [spec for spec in feature_schema(Config()) if spec.name in MODEL_FEATURES]
    params = LightGBMConfig(n_estimators=5, early_stopping_rounds=2, num_threads=1)
    frames = [synthetic_rows(n, seed) for n, seed in ((1200, 4), (400, 5), (400, 6))]
    for frame in frames:  # segments of unequal size; the sleepers never sold (their sale recency is all NaN)
        frame["segment"] = np.select([frame["days_since_last_activity"] > 12, frame["active_days_30"] > 8], ["sleeper", "star"], "workhorse")
        frame.loc[frame["segment"] == "sleeper", "days_since_last_sale"] = np.nan
    train_rows = frames[0]
    train_rows.loc[train_rows.index[: MIN_QUARTILE_ROWS - 1], "segment"] = "newbie"  # too few rows for quartiles
    model = fit_model(RISK, *frames, schema, params, calibration_method="sigmoid", seed=1)  # type: ignore[arg-type]
    numeric = [name for name in MODEL_FEATURES if name not in model.categories]
    segments = {"all": np.ones(len(train_rows), bool)} | {s: (train_rows["segment"] == s).to_numpy() for s in ("sleeper", "star", "workhorse")}
    assert set(model.typical) == {prefix + group for group in segments for prefix in ("", LOWER_QUARTILE_PREFIX, UPPER_QUARTILE_PREFIX)} | {"newbie"}
    for group, rows in segments.items():
        low, median, high = (model.typical[prefix + group] for prefix in (LOWER_QUARTILE_PREFIX, "", UPPER_QUARTILE_PREFIX))
        assert set(low) == set(median) == set(high)
        for name in numeric:
            values = train_rows.loc[rows, name].dropna().to_numpy(float)
            if values.size == 0:
                assert name not in median  # no value, no typical partner
                continue
            expected = np.percentile(values, [25, 50, 75])
            np.testing.assert_allclose([low[name], median[name], high[name]], expected, rtol=1e-12, atol=1e-12)
            assert low[name] <= median[name] <= high[name]
    assert "days_since_last_sale" not in model.typical["sleeper"] and "days_since_last_sale" in model.typical["all"]
    assert model.typical[f"{LOWER_QUARTILE_PREFIX}star"]["active_days_30"] < model.typical[f"{UPPER_QUARTILE_PREFIX}star"]["active_days_30"]


def _saved_before_quartiles(model: TrainedModel, folder: Path, *, medians: bool) -> TrainedModel:
    """`model` as a model saved before quartiles were kept (`medians`) or before any typical value was."""
    model.save(folder)
    meta = json.loads((folder / "model.json").read_text())
    if medians:
        meta["typical"] = {g: v for g, v in meta["typical"].items() if not g.startswith((LOWER_QUARTILE_PREFIX, UPPER_QUARTILE_PREFIX))}
    else:
        del meta["typical"]
    (folder / "model.json").write_text(json.dumps(meta))
    return TrainedModel.load(folder)


def test_a_model_saved_before_quartiles_were_kept_still_explains(risk_model: TrainedModel, tmp_path: Path) -> None:
    old = _saved_before_quartiles(risk_model, tmp_path / "medians", medians=True)
    assert set(old.typical) == {"all"} and old.typical["all"] == risk_model.typical["all"]
    rows = pd.DataFrame([RISKY, SAFE])
    assert reasons_for(old, rows) == reasons_for(risk_model, rows)  # a clear risk is past the median band and the quartiles alike
    assert len(reasons_for(old, rows)[0]) == 3 and reasons_for(old, rows, lang="ru")[0][0].startswith("нет активности 21 день (типично: ")
    # The median band, not the quartiles: revenue under half the median is far from it, yet above the 25th percentile.
    low, median = (risk_model.typical[group]["revenue_30d"] for group in (f"{LOWER_QUARTILE_PREFIX}all", "all"))
    revenue = {"segment": "x", "revenue_30d": (low + median / 2) / 2}
    assert low < revenue["revenue_30d"] <= median / 2
    assert choose({"revenue_30d": 0.9}, revenue, typical=old.typical) == [
        f"revenue {format_money(revenue['revenue_30d'], 'en')} in the last 30 days (typical: {format_money(median, 'en')})"
    ]
    assert choose({"revenue_30d": 0.9}, revenue, typical=risk_model.typical) == []


def test_a_model_saved_before_typical_values_were_kept_explains_by_direction_alone(risk_model: TrainedModel, tmp_path: Path) -> None:
    oldest = _saved_before_quartiles(risk_model, tmp_path / "none", medians=False)
    assert oldest.typical == {}
    (risky, safe) = reasons_for(oldest, pd.DataFrame([RISKY, SAFE]))
    assert [text.split(" (typical")[0].split(";")[0] for text in risky] == [
        text.split(" (typical")[0].split(";")[0] for text in reasons_for(risk_model, pd.DataFrame([RISKY]))[0]
    ]
    assert risky and not any("(typical" in text for text in risky)
    assert not any(text.startswith(("clicks up", "last activity")) for text in safe)  # good news is never a reason for risk


# -- choosing: only drivers worth a slot -----------------------------------------------------------------
def choose(
    contributions: dict[str, float], row: dict[str, object], *, target: str = RISK, k: int = 3, lang: str = "en", typical: Any = None
) -> list[str]:
    names = list(contributions)
    frame = pd.DataFrame([row])
    (found,) = reasons_from_contributions(np.array([[contributions[n] for n in names]]), names, frame, target=target, k=k, lang=lang, typical=typical)
    return found


WORKHORSE_TYPICAL = {
    "workhorse": {
        "tenure_days": 220.0,
        "days_since_last_payout": 31.6,
        "active_day_gap_mean": 3.4,
        "click_trend_30d": 0.06,
        "revenue_trend_30d": 0.105,
        "days_since_last_activity": 1.4,
        "login_count_90d": 22.0,
        "onboarding_events_72h": 2.0,
        "days_to_first_sale": 62.8,
        "commission_rate": 0.084,
    },
    "all": {"tenure_days": 99.6, "login_count_90d": 7.0},
}


def test_the_trial_s_filler_is_left_out_and_what_is_left_says_the_typical_value() -> None:
    """The retention trial's filler: tenure, 'no payouts for 3 days', a usual rhythm, a rise given as risk."""
    row = {
        "segment": "workhorse",
        "tenure_days": 250.0,
        "days_since_last_payout": 3.2,
        "active_day_gap_mean": 4.0,
        "click_trend_30d": tau_for_change(109),
        "revenue_trend_30d": -1.0,
        "login_count_90d": 8.0,
        "days_since_last_activity": 9.5,
        "onboarding_events_72h": 0.0,
        "days_to_first_sale": 150.0,
        "partner_type": "blogger",
        "country": "TR",
    }
    contributions = {
        "tenure_days": 0.9,
        "days_since_last_payout": 0.8,
        "active_day_gap_mean": 0.7,
        "click_trend_30d": 0.6,
        "partner_type": 0.55,
        "onboarding_events_72h": 0.5,
        "days_to_first_sale": 0.45,
        "country": 0.42,
        "revenue_trend_30d": 0.4,
        "login_count_90d": 0.3,
        "days_since_last_activity": 0.2,
    }
    assert choose(contributions, row, typical=WORKHORSE_TYPICAL, k=10) == [
        "no revenue in the last 30 days; there was some the month before (typical: +23%)",
        "8 logins in the last 90 days (typical: 22)",
        "no activity for 9 days (typical: 1 day); usually every 4 days",
    ]
    assert choose(contributions, row, typical=WORKHORSE_TYPICAL, k=10, lang="ru") == [
        "нет выручки за последние 30 дней, а месяцем раньше была (типично: +23\u00a0%)",
        "8 входов за последние 90 дней (типично: 22)",
        "нет активности 9 дней (типично: 1 день); обычно — раз в 4 дня",
    ]


def test_a_rise_is_never_a_reason_for_risk_nor_a_fall_one_to_grow() -> None:
    row = {
        "click_trend_30d": tau_for_change(109),
        "activity_trend_30d": 0.002,
        "weekly_activity_slope_12w": 0.27,
        "revenue_trend_30d": 1.0,
        "days_since_last_click": 21.4,
    }
    contributions = {
        "click_trend_30d": 0.9,
        "activity_trend_30d": 0.8,
        "weekly_activity_slope_12w": 0.7,
        "revenue_trend_30d": 0.6,
        "days_since_last_click": 0.1,
    }
    assert choose(contributions, row, k=10) == ["no clicks for 21 days"]
    falling = {"click_trend_30d": -0.6, "weekly_activity_slope_12w": -0.27, "revenue_trend_30d": -1.0, "days_since_last_click": 0.4}
    assert choose(contributions, falling, target=GROWTH, k=10) == ["last click less than a day ago"]
    assert choose(contributions, falling, k=10) == [
        "clicks fell 75% vs the previous month",
        "active days per week falling by 0.3 a week over the last 12 weeks",
        "no revenue in the last 30 days; there was some the month before",
    ]


def test_good_news_and_a_partner_s_own_rhythm_are_no_risk_reasons() -> None:
    row = {
        "days_since_last_sale": 1.4,
        "days_since_last_login": 0.3,
        "active_days_30": 25,
        "days_since_last_activity": 3.0,
        "active_day_gap_mean": 4.5,
        "active_day_gap_std": 0.2,
        "days_since_last_lead": 12.2,
    }
    contributions = {
        "days_since_last_sale": 0.9,
        "days_since_last_login": 0.8,
        "active_days_30": 0.7,
        "days_since_last_activity": 0.6,
        "active_day_gap_std": 0.5,
        "days_since_last_lead": 0.1,
    }
    assert choose(contributions, row, k=10) == ["no leads for 12 days; usually active every 5 days"]
    ratio_only = {"recency_to_usual_gap": 0.5, "days_since_last_lead": 12.2}
    assert choose({"recency_to_usual_gap": 0.9, "days_since_last_lead": 0.1}, ratio_only) == ["no leads for 12 days"]
    assert choose({"recency_to_usual_gap": 0.9}, {"recency_to_usual_gap": 2.5}) == ["silent 2.5 times longer than the usual gap between active days"]


def test_history_and_attributes_no_action_changes_are_no_reasons() -> None:
    old = {
        "segment": "workhorse",
        "tenure_days": 250.0,
        "onboarding_events_72h": 0,
        "days_to_first_sale": 150.0,
        "channel": "youtube",
        "partner_type": "blogger",
        "country": "TR",
        "commission_rate": 0.04,
    }
    contributions = {
        "tenure_days": 0.9,
        "onboarding_events_72h": 0.8,
        "days_to_first_sale": 0.7,
        "channel": 0.65,
        "partner_type": 0.6,
        "country": 0.55,
        "commission_rate": 0.5,
    }
    assert choose(contributions, old, typical=WORKHORSE_TYPICAL, k=10) == ["commission rate 4% (typical: 8.4%)"]  # terms can change
    young = {**old, "tenure_days": EARLY_HISTORY_DAYS - 10.0, "days_to_first_sale": 12.0}
    assert choose(contributions, young, typical=WORKHORSE_TYPICAL, k=10) == [
        "no activity in the first 72 hours after sign-up (typical: 2)",  # news while the partner is young
        "commission rate 4% (typical: 8.4%)",
    ]  # a first sale on day 12 is faster than typical: no reason for risk
    assert choose(contributions, {**old, "tenure_days": float(EARLY_HISTORY_DAYS)}, typical=WORKHORSE_TYPICAL, k=10) == [
        "commission rate 4% (typical: 8.4%)"
    ]


def test_money_owed_is_no_reason_to_grow() -> None:
    row = {"pending_payout_amount": 12_400.0, "days_since_last_payout_request": 45.2, "unpaid_commission": 900.0, "days_since_last_sale": 3.1}
    contributions = {"pending_payout_amount": 0.9, "days_since_last_payout_request": 0.8, "unpaid_commission": 0.7, "days_since_last_sale": 0.1}
    assert choose(contributions, row, target=GROWTH) == ["last sale 3 days ago"]
    assert choose(contributions, row) == ["unpaid commission 12,400 for 45 days", "no sales for 3 days"]  # money owed: one story


@pytest.mark.parametrize(
    ("name", "value", "median", "kept"),
    [
        ("login_count_7d", 1.0, 2.0, None),  # half the typical value, but one login away from it: no news
        ("login_count_7d", 0.0, 2.0, "no logins in the last 7 days (typical: 2)"),
        ("active_day_gap_mean", 8.0, 7.0, None),  # "active every 8 days on average" when 7 is typical
        ("active_day_gap_mean", 13.0, 7.0, None),  # under twice the typical gap
        ("active_day_gap_mean", 14.0, 7.0, "active every 14 days on average (typical: 7 days)"),
        ("days_since_last_payout", 3.2, 31.6, None),  # "no payouts for 3 days": better than typical
        ("days_since_last_payout", 70.4, 31.6, "no payouts for 70 days (typical: 31 days)"),
        ("revenue_90d", 300.0, 527.3, None),
        ("revenue_90d", 263.0, 527.3, "revenue 263 in the last 90 days (typical: 527)"),
        ("sale_count_30d", 0.0, 0.0, None),  # none, like the typical partner
        ("pending_payout_amount", 5.0, 0.0, "unpaid commission 5"),
        ("click_trend_30d", tau_for_change(-40), 0.06, None),  # fell 40%: not by half
        ("click_trend_30d", tau_for_change(-60), 0.06, "clicks fell 60% vs the previous month (typical: +13%)"),
        ("weekly_activity_slope_12w", -0.08, 0.03, None),  # "falling by 0.1 a week", yet within MIN_SLOPE_GAP of flat
        ("weekly_activity_slope_12w", -0.2, 0.03, "active days per week falling by 0.2 a week over the last 12 weeks (typical: flat)"),
    ],
)
def test_a_value_within_the_median_band_is_not_worth_a_slot(name: str, value: float, median: float, kept: str | None) -> None:
    typical = {"workhorse": {name: median}}
    found = choose({name: 0.9}, {"segment": "workhorse", name: value}, typical=typical)
    expected = [kept + ("" if kept.endswith(")") else " (typical: none)")] if kept else []
    assert found == expected


def test_a_segment_is_compared_with_its_own_typical_partner_else_with_all() -> None:
    typical = {"all": {"login_count_90d": 7.0}, "workhorse": {"login_count_90d": 22.0}}
    assert choose({"login_count_90d": 0.9}, {"segment": "workhorse", "login_count_90d": 8.0}, typical=typical) == [
        "8 logins in the last 90 days (typical: 22)"
    ]
    assert choose({"login_count_90d": 0.9}, {"segment": "star", "login_count_90d": 8.0}, typical=typical) == []  # star: 'all', 7
    assert choose({"login_count_90d": 0.9}, {"segment": "star", "login_count_90d": 3.0}, typical=typical) == [
        "3 logins in the last 90 days (typical: 7)"
    ]


def test_quartiles_when_the_model_kept_them_replace_the_median_band() -> None:
    """Zero clicks in a week is past half the median, yet a quarter of Workhorses have it: typical."""
    median = {"click_count_7d": 15.0, "login_count_90d": 30.0, "days_since_last_lead": 2.0}
    quartiles = {
        "workhorse": median,
        f"{LOWER_QUARTILE_PREFIX}workhorse": {"click_count_7d": 0.0, "login_count_90d": 12.0, "days_since_last_lead": 0.1},
        f"{UPPER_QUARTILE_PREFIX}workhorse": {"click_count_7d": 57.0, "login_count_90d": 42.0, "days_since_last_lead": 9.07},
    }
    row = {"segment": "workhorse", "click_count_7d": 0.0, "login_count_90d": 12.0, "days_since_last_lead": 9.5}
    contributions = {"click_count_7d": 0.9, "login_count_90d": 0.8, "days_since_last_lead": 0.7}
    assert choose(contributions, row, typical={"workhorse": median}) == [
        "no clicks in the last 7 days (typical: 15)",
        "12 logins in the last 90 days (typical: 30)",
        "no leads for 9 days (typical: 2 days)",
    ]
    assert choose(contributions, row, typical=quartiles) == []  # none of them is past its quartile as the sentence shows it
    past = {**row, "login_count_90d": 11.0, "days_since_last_lead": 10.2}
    assert choose(contributions, past, typical=quartiles) == ["11 logins in the last 90 days (typical: 30)", "no leads for 10 days (typical: 2 days)"]
    no_quartile_for_star = {**quartiles, "star": median}
    assert choose(contributions, {**row, "segment": "star"}, typical=no_quartile_for_star)[0] == "no clicks in the last 7 days (typical: 15)"


# -- merging stories, on hand-made contributions ------------------------------------------------------------
def test_features_telling_one_story_give_one_sentence() -> None:
    row = {**RISKY, "sale_count_7d": 0, "click_count_30d": 3}
    found = choose(
        {
            "days_since_last_activity": 0.9,
            "recency_to_usual_gap": 0.8,
            "active_days_30": 0.7,
            "active_day_gap_mean": 0.6,
            "sale_count_30d": 0.5,
            "sale_count_7d": 0.45,
            "sale_count_90d": 0.4,
            "days_since_last_sale": 0.35,
            "revenue_30d": 0.3,
            "click_trend_30d": 0.2,
            "click_count_30d": 0.1,
        },
        row,
        k=10,
    )
    assert found == [
        "no activity for 21 days; usually every 4 days",
        "no sales in the last 30 days",
        "clicks fell 75% vs the previous month",
        "3 clicks in the last 30 days",
    ]


def test_the_usual_gap_is_said_once_per_partner() -> None:
    found = choose({"days_since_last_sale": 0.9, "days_since_last_activity": 0.5, "active_day_gap_mean": 0.4}, RISKY)
    assert found == ["no sales for 21 days; usually active every 4 days", "no activity for 21 days"]
    found = choose({"days_since_last_sale": 0.9, "days_since_last_activity": 0.5, "active_day_gap_mean": 0.4}, RISKY, lang="ru")
    assert found == ["нет продаж 21 день; обычно активен раз в 4 дня", "нет активности 21 день"]


def test_money_owed_is_one_story_and_covers_the_payout_request_age() -> None:
    row = {**RISKY, "pending_payout_requests": 2, "unpaid_commission": 900.0}
    found = choose(
        {"pending_payout_requests": 0.9, "pending_payout_amount": 0.8, "unpaid_commission": 0.7, "days_since_last_payout_request": 0.6}, row
    )
    assert found == ["unpaid commission 12,400 for 45 days"]
    typical = {"all": {"pending_payout_amount": 0.0, "pending_payout_requests": 0.0}}
    assert choose({"pending_payout_requests": 0.9}, row, typical=typical) == ["unpaid commission 12,400 for 45 days (typical: none)"]


def test_values_that_say_nothing_are_skipped_and_the_next_feature_speaks() -> None:
    row = {**RISKY, "days_since_last_sale": np.nan, "pending_payout_amount": 0.0, "partner_type": None}
    found = choose({"days_since_last_sale": 0.9, "pending_payout_amount": 0.8, "partner_type": 0.7, "sale_count_30d": 0.5}, row)
    assert found == ["no sales in the last 30 days"]
    assert describe_feature("days_since_last_sale", {"days_since_last_sale": np.nan}, target=RISK) is None
    assert describe_feature("days_since_last_sale", {"days_since_last_sale": np.inf}, target=RISK) is None
    assert describe_feature("unpaid_commission", {"unpaid_commission": 0.0}, target=RISK) is None


def test_negative_and_zero_contributions_are_not_reasons() -> None:
    assert choose({"days_since_last_activity": 0.0, "click_trend_30d": -0.4, "active_days_30": 1e-9}, RISKY) == []


def test_facts_leave_tenure_out() -> None:
    names = fact_features(Config())
    assert "tenure_days" not in names and "days_since_last_activity" in names
    rows = {"days_since_last_activity": [40.0], "days_since_last_sale": [np.nan], "active_days_30": [0], "revenue_90d": [0.0], "tenure_days": [400.0]}
    assert facts_for(rows, names=names) == [["no activity for 40 days", "not active on any of the last 30 days", "no revenue in the last 90 days"]]


# -- templates ---------------------------------------------------------------------------------------------
def full_row() -> dict[str, object]:
    row: dict[str, object] = {
        "tenure_days": 400.3,
        "onboarding_events_72h": 0,
        "days_to_first_link": 0.3,
        "days_to_first_lead": 12.5,
        "days_to_first_sale": 21.4,
        "days_since_last_training": 30.0,
        "days_since_last_payout": 60.0,
        "days_since_last_login": 22.1,
        "days_since_last_click": 25.0,
        "days_since_last_lead": 30.2,
        "active_days_90": 40,
        "activity_trend_30d": -0.6,
        "revenue_trend_30d": 0.9,
        "weekly_activity_slope_12w": -0.27,
        "active_day_gap_std": 6.2,
        "lead_per_click_90d": 0.153,
        "sale_per_lead_90d": 0.25,
        "pending_payout_requests": 2,
        "unpaid_commission": 45.5,
        "revenue_share_30d": 0.0041,
        "revenue_share_90d": 0.123,
        "country": "RU",
        "commission_rate": 0.075,
        **RISKY,
    }
    for spec in feature_schema(Config()):
        row.setdefault(spec.name, 3 if spec.kind == "int" else 1234.5)
    return row


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("target", [RISK, GROWTH])
def test_every_feature_of_the_default_schema_has_a_template(lang: str, target: str) -> None:
    row = full_row()
    for spec in feature_schema(Config()):
        assert has_template(spec.name) and template_family(spec.name) is not None, spec.name
        text = describe_feature(spec.name, row, target=target, lang=lang)
        assert text, spec.name
        assert not re.search(r"[{}_]|nan|None", text), (spec.name, text)
        if lang == "ru":
            assert not re.search(r"[a-zA-Z]", text.replace("RU", "").replace("blogger", "")), (spec.name, text)


def test_both_languages_have_the_same_templates() -> None:
    assert set(catalogue.TEMPLATES["en"]) == set(catalogue.TEMPLATES["ru"])


def test_an_unknown_declared_attribute_is_still_worded() -> None:
    assert not has_template("channel")
    assert describe_feature("channel", {"channel": "youtube"}, target=RISK) == "channel: youtube"


# -- grammar: every template, the numbers 0, 1, 2, 5, 21, both languages --------------------------------------
NUMBERS = (0, 1, 2, 5, 21)
WINDOWS = (1, 2, 5, 21, 30)


def sweep() -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(feature, row, typical) cases that put each of 0, 1, 2, 5, 21 into every numeric slot of every template
    (counts, days, windows, hours, weeks, times, the typical value)."""
    for n in NUMBERS:
        for suffix in RECENCY_TYPES:
            name = f"days_since_last_{suffix}"
            yield name, {name: n + 0.4}, None
            yield name, {name: 40.4, "active_day_gap_mean": n + 0.2}, None  # the "usually every N days" clause
            yield name, {name: 21.4, "segment": "s"}, {"s": {name: n + 0.3}}  # "(typical: N days)"
        yield "days_since_last_payout_request", {"days_since_last_payout_request": n + 0.4, "pending_payout_amount": 120.0 * n}, None
        for ratio in (n, n + 0.5):
            yield "recency_to_usual_gap", {"recency_to_usual_gap": ratio}, None
        for event_type in (*EVENTS, "custom_step"):
            for w in WINDOWS:
                yield f"{event_type}_count_{w}d", {f"{event_type}_count_{w}d": n}, None
        for w in WINDOWS:
            for name in (f"revenue_{w}d", f"payout_paid_amount_{w}d", f"revenue_share_{w}d", f"lead_per_click_{w}d", f"sale_per_lead_{w}d"):
                value = n / 100 if "share" in name or "per" in name else float(n)
                yield name, {name: value}, None
                yield name, {name: value, "segment": "s"}, {"s": {name: float(n)}}
            if n <= w and w > 1:  # active-day windows are 30 and 90 (domain.ACTIVE_DAY_WINDOWS); a 1-day one does not exist
                yield f"active_days_{w}", {f"active_days_{w}": n}, None
            yield f"weekly_activity_slope_{w}w", {f"weekly_activity_slope_{w}w": n / 10}, None
            yield (
                f"weekly_activity_slope_{w}w",
                {f"weekly_activity_slope_{w}w": -n / 10, "segment": "s"},
                {"s": {f"weekly_activity_slope_{w}w": -n / 10}},
            )
            for subject in ("activity", "click", "revenue"):
                name = f"{subject}_trend_{w}d"
                for tau in (tau_for_change(n), tau_for_change(-n), (n - 1) / (n + 1) if n else 0.0, 1.0, -1.0):
                    yield name, {name: tau, f"{subject}_count_{w}d": 0, f"days_since_last_{subject}": 2.0 * w}, None
                    yield name, {name: tau, "segment": "s"}, {"s": {name: tau_for_change(n)}}
            yield f"onboarding_events_{w}h", {f"onboarding_events_{w}h": n, "tenure_days": 400.0}, None
        yield "onboarding_events_72h", {"onboarding_events_72h": n, "tenure_days": min(n, 2) + 0.3}, None
        yield f"onboarding_events_{24 * n + 24}h", {f"onboarding_events_{24 * n + 24}h": n, "tenure_days": n + 0.3}, None
        for name in ("active_day_gap_mean", "active_day_gap_std"):
            yield name, {name: n + 0.2, "active_day_gap_mean": 3.0 if name == "active_day_gap_std" else n + 0.2}, None
            yield name, {name: 30.2, "active_day_gap_mean": 30.0 if name == "active_day_gap_std" else 30.2, "segment": "s"}, {"s": {name: n + 0.2}}
        yield "active_day_gap_std", {"active_day_gap_std": n + 0.2, "active_day_gap_mean": 40.0}, None
        yield "pending_payout_amount", {"pending_payout_amount": float(n), "days_since_last_payout_request": n + 0.3}, None
        yield "pending_payout_amount", {"pending_payout_amount": 12_400.0, "segment": "s"}, {"s": {"pending_payout_amount": float(n)}}
        yield "pending_payout_requests", {"pending_payout_requests": n, "days_since_last_payout_request": n + 0.3}, None
        yield "pending_payout_requests", {"pending_payout_requests": n}, None
        yield "unpaid_commission", {"unpaid_commission": float(n)}, None
        score = float(min(n, 10))
        yield "survey_score_last", {"survey_score_last": score, "days_since_last_survey": n + 0.4}, None
        yield "survey_score_change", {"survey_score_last": score, "survey_score_change": score - 10.0, "days_since_last_survey": n + 0.4}, None
        yield (
            "survey_score_last",
            {"survey_score_last": score + 0.5 if n < 10 else 9.5, "days_since_last_survey": 3.0, "segment": "s"},
            {"s": {"survey_score_last": score}},
        )
        for tenure in (n + 0.4, n * 30.4375 + 95.0, n * 365.25 + 731.0):
            yield "tenure_days", {"tenure_days": tenure}, None
        for suffix in FIRST_EVENT_TYPES:
            yield f"days_to_first_{suffix}", {f"days_to_first_{suffix}": n + 0.4}, None
        yield "commission_rate", {"commission_rate": n / 100, "segment": "s"}, {"s": {"commission_rate": n / 100}}
        yield "partner_type", {"partner_type": f"type {n}"}, None
        yield "country", {"country": "TR"}, None
        yield "channel", {"channel": n}, None


def nouns() -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """Every counted noun: English (singular, plural) pairs and Russian (1, 2-4, 5+) triples."""
    english = [tuple(forms["en"]) for forms in NOUNS.values()] + [words.en for words in EVENTS.values() if words.en[0] != words.en[1]]
    russian = [tuple(forms["ru"]) for forms in NOUNS.values()] + [words.ru for words in EVENTS.values()]
    return english, russian  # type: ignore[return-value]


def russian_form(number: str, triple: tuple[str, str, str]) -> str:
    """The reference rule, written out on its own: 1, 21, 101 -> one; 2-4, 22-24 -> few; 0, 5-20, 25-30 -> many;
    a fraction -> few."""
    if "," in number:
        return triple[1]
    n = int(number.replace(NB, ""))
    if n % 10 == 1 and n % 100 != 11:
        return triple[0]
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return triple[1]
    return triple[2]


BROKEN = re.compile(
    r"after some|after none|the (last|first|previous) 1 |\b1 days|\b1 \w+s before|\b0 days ago|\b1 times?\b longer|\(typical: \)|"
    r"последние 1 |первые 1 |предыдущие 1 |\b0 дней назад|в 1 раз|\b1 раз дольше|[{}]|nan|None|  |^ | $| ;| \)"
)


def grammar_problems(text: str, lang: str) -> list[str]:
    """What is broken in one sentence: a noun in the wrong form for its number (the longest known noun
    after the number decides: '2 payout requests' is a request, not a payout), or a known broken phrase."""
    english, russian = nouns()
    problems = [f"broken phrase {m[0]!r}" for m in BROKEN.finditer(text)]
    groups: list[tuple[str, ...]] = list(english) if lang == "en" else list(russian)
    forms = sorted(((form, group) for group in groups for form in set(group)), key=lambda item: -len(item[0]))
    number = r"\d[\d,]*(?:\.\d+)?" if lang == "en" else rf"\d[\d{NB}]*(?:,\d+)?"
    for m in re.finditer(rf"(?<![\w.,]){number}(?= )", text):
        rest = text[m.end() + 1 :]
        found = next(((form, group) for form, group in forms if re.match(rf"{re.escape(form)}(?![\w])", rest)), None)
        if found is None:
            continue
        form, group = found
        if lang == "en":
            expected = group[0] if m[0] == "1" else group[1]
        else:
            expected = russian_form(m[0], group)  # type: ignore[arg-type]
        if form != expected:
            problems.append(f"{m[0]} {form!r}: {expected!r} expected")
    if lang == "ru" and re.search(r"[a-zA-Z]", re.sub(r"«[^»]*»|type \d+|TR|channel", "", text)):
        problems.append("Latin letters in Russian")
    return problems


def test_the_grammar_checker_catches_broken_forms() -> None:
    assert grammar_problems("no sales for 1 days", "en") and grammar_problems("1 clicks in the last 30 days", "en")
    assert grammar_problems("2 click in the last 30 days", "en") and grammar_problems(
        "no revenue in the last 30 days after some the month before", "en"
    )
    assert grammar_problems("нет продаж 21 дней", "ru") and grammar_problems("2 клик за последние 30 дней", "ru")
    assert grammar_problems("5 раза", "ru") and grammar_problems("за последние 1 день", "ru")
    assert not grammar_problems("1 click in the last 21 days; 0 clicks; 1.5 times", "en")
    assert not grammar_problems(f"21 день, 2 дня, 5 дней, 11 дней, 1{NB}234 клика, 1,5 раза, в 21 раз", "ru")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_template_renders_the_numbers_0_1_2_5_21_without_broken_forms(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    used: set[str] = set()
    say = catalogue.say

    def recording(language: str, key: str, **values: Any) -> str:
        used.add(key)
        return say(language, key, **values)

    monkeypatch.setattr(catalogue, "say", recording)
    problems, rendered = [], 0
    for name, row, typical in sweep():
        for target in (RISK, GROWTH):
            text = describe_feature(name, row, target=target, lang=lang, typical=typical)
            if text is None:
                continue
            rendered += 1
            problems += [(name, row, text, problem) for problem in grammar_problems(text, lang)]
    assert problems == []
    assert rendered > 2000
    assert used == set(catalogue.TEMPLATES[lang])  # the sweep reaches every template: none escapes the check


@pytest.mark.parametrize(
    ("name", "row", "target", "en", "ru"),
    [
        ("days_since_last_sale", {"days_since_last_sale": 0.4}, RISK, "last sale less than a day ago", "последняя продажа меньше суток назад"),
        ("days_since_last_sale", {"days_since_last_sale": 1.4}, RISK, "last sale 1 day ago", "последняя продажа 1 день назад"),
        ("days_since_last_sale", {"days_since_last_sale": 2.4}, RISK, "no sales for 2 days", "нет продаж 2 дня"),
        ("days_since_last_sale", {"days_since_last_sale": 5.4}, RISK, "no sales for 5 days", "нет продаж 5 дней"),
        ("days_since_last_sale", {"days_since_last_sale": 21.4}, RISK, "no sales for 21 days", "нет продаж 21 день"),
        ("days_since_last_sale", {"days_since_last_sale": 21.4}, GROWTH, "last sale 21 days ago", "последняя продажа 21 день назад"),
        ("click_count_30d", {"click_count_30d": 0}, RISK, "no clicks in the last 30 days", "нет кликов за последние 30 дней"),
        ("click_count_30d", {"click_count_30d": 1}, RISK, "1 click in the last 30 days", "1 клик за последние 30 дней"),
        ("click_count_30d", {"click_count_30d": 2}, RISK, "2 clicks in the last 30 days", "2 клика за последние 30 дней"),
        ("click_count_30d", {"click_count_30d": 5}, RISK, "5 clicks in the last 30 days", "5 кликов за последние 30 дней"),
        ("click_count_21d", {"click_count_21d": 21}, RISK, "21 clicks in the last 21 days", "21 клик за последние 21 день"),
        ("click_count_1d", {"click_count_1d": 2}, RISK, "2 clicks in the last day", "2 клика за последний день"),
        ("sale_count_2d", {"sale_count_2d": 1}, RISK, "1 sale in the last 2 days", "1 продажа за последние 2 дня"),
        ("active_days_30", {"active_days_30": 0}, RISK, "not active on any of the last 30 days", "ни одного активного дня за последние 30 дней"),
        ("active_days_30", {"active_days_30": 1}, RISK, "active on only 1 of the last 30 days", "активен всего 1 день из последних 30"),
        ("active_days_30", {"active_days_30": 2}, RISK, "active on only 2 of the last 30 days", "активен всего 2 дня из последних 30"),
        ("active_days_30", {"active_days_30": 5}, RISK, "active on only 5 of the last 30 days", "активен всего 5 дней из последних 30"),
        ("active_days_30", {"active_days_30": 21}, RISK, "active on 21 of the last 30 days", "активен 21 день из последних 30"),
        (
            "onboarding_events_72h",
            {"onboarding_events_72h": 0, "tenure_days": 40.0},
            RISK,
            "no activity in the first 72 hours after sign-up",
            "ни одного действия за первые 72 часа после регистрации",
        ),
        (
            "onboarding_events_72h",
            {"onboarding_events_72h": 1, "tenure_days": 40.0},
            RISK,
            "1 action in the first 72 hours after sign-up",
            "1 действие за первые 72 часа после регистрации",
        ),
        (
            "onboarding_events_72h",
            {"onboarding_events_72h": 2, "tenure_days": 40.0},
            RISK,
            "2 actions in the first 72 hours after sign-up",
            "2 действия за первые 72 часа после регистрации",
        ),
        (
            "onboarding_events_72h",
            {"onboarding_events_72h": 5, "tenure_days": 40.0},
            RISK,
            "5 actions in the first 72 hours after sign-up",
            "5 действий за первые 72 часа после регистрации",
        ),
        (
            "onboarding_events_21h",
            {"onboarding_events_21h": 21, "tenure_days": 40.0},
            RISK,
            "21 actions in the first 21 hours after sign-up",
            "21 действие за первые 21 час после регистрации",
        ),
        (
            "onboarding_events_1h",
            {"onboarding_events_1h": 2, "tenure_days": 40.0},
            RISK,
            "2 actions in the first hour after sign-up",
            "2 действия за первый час после регистрации",
        ),
        (
            "onboarding_events_72h",
            {"onboarding_events_72h": 0, "tenure_days": 2.5},
            RISK,
            "no activity since sign-up (2 days ago)",
            "ни одного действия с момента регистрации (2 дня назад)",
        ),
        (
            "onboarding_events_72h",
            {"onboarding_events_72h": 1, "tenure_days": 1.2},
            RISK,
            "1 action since sign-up (1 day ago)",
            "1 действие с момента регистрации (1 день назад)",
        ),
        (
            "onboarding_events_72h",
            {"onboarding_events_72h": 0, "tenure_days": 0.3},
            RISK,
            "no activity since sign-up (less than a day ago)",
            "ни одного действия с момента регистрации (меньше суток назад)",
        ),
        ("tenure_days", {"tenure_days": 1.5}, RISK, "in the program for 1 day", "в программе 1 день"),
        ("tenure_days", {"tenure_days": 21.2}, RISK, "in the program for 21 days", "в программе 21 день"),
        ("tenure_days", {"tenure_days": 153.2}, RISK, "in the program for 5 months", "в программе 5 месяцев"),
        ("tenure_days", {"tenure_days": 640.2}, RISK, "in the program for 21 months", "в программе 21 месяц"),
        ("tenure_days", {"tenure_days": 731.0}, RISK, "in the program for 2 years", "в программе 2 года"),
        ("tenure_days", {"tenure_days": 1830.0}, RISK, "in the program for 5 years", "в программе 5 лет"),
        (
            "click_trend_30d",
            {"click_trend_30d": -1.0},
            RISK,
            "no clicks in the last 30 days; there were some the month before",
            "нет кликов за последние 30 дней, а месяцем раньше были",
        ),
        (
            "revenue_trend_30d",
            {"revenue_trend_30d": -1.0},
            RISK,
            "no revenue in the last 30 days; there was some the month before",
            "нет выручки за последние 30 дней, а месяцем раньше была",
        ),
        (
            "click_trend_30d",
            {"click_trend_30d": 1.0},
            GROWTH,
            "clicks started in the last 30 days, none the month before",
            "клики появились, а месяцем раньше их не было",
        ),
        (
            "click_trend_1d",
            {"click_trend_1d": -1.0},
            RISK,
            "no clicks in the last day; there were some the day before",
            "нет кликов за последний день, а днём раньше были",
        ),
        (
            "click_trend_21d",
            {"click_trend_21d": 1.0},
            GROWTH,
            "clicks started in the last 21 days, none the 21 days before",
            "клики появились, а в предыдущие 21 день их не было",
        ),
        (
            "click_trend_30d",
            {"click_trend_30d": tau_for_change(-50)},
            RISK,
            "clicks fell 50% vs the previous month",
            "клики упали на 50\u00a0% к прошлому месяцу",
        ),
        (
            "click_trend_5d",
            {"click_trend_5d": tau_for_change(-21)},
            RISK,
            "clicks fell 21% vs the previous 5 days",
            "клики упали на 21\u00a0% к предыдущему периоду в 5 дней",
        ),
        (
            "revenue_trend_1d",
            {"revenue_trend_1d": tau_for_change(100)},
            GROWTH,
            "revenue up 100% vs the day before",
            "выручка выросла на 100\u00a0% к предыдущему дню",
        ),
        (
            "activity_trend_1d",
            {"activity_trend_1d": 0.001, "days_since_last_activity": 0.2},
            RISK,
            "activity flat vs the day before",
            "активность на уровне предыдущего дня",
        ),
        ("click_trend_30d", {"click_trend_30d": 4 / 6}, GROWTH, "clicks up 5x vs the previous month", "клики выросли в 5 раз к прошлому месяцу"),
        (
            "revenue_trend_30d",
            {"revenue_trend_30d": 20 / 22},
            GROWTH,
            "revenue up 21x vs the previous month",
            "выручка выросла в 21 раз к прошлому месяцу",
        ),
        (
            "weekly_activity_slope_1w",
            {"weekly_activity_slope_1w": -0.2},
            RISK,
            "active days per week falling by 0.2 a week over the last week",
            "число активных дней в неделю падает на 0,2 в неделю за последнюю неделю",
        ),
        (
            "weekly_activity_slope_2w",
            {"weekly_activity_slope_2w": 0.5},
            GROWTH,
            "active days per week rising by 0.5 a week over the last 2 weeks",
            "число активных дней в неделю растёт на 0,5 в неделю за последние 2 недели",
        ),
        (
            "weekly_activity_slope_21w",
            {"weekly_activity_slope_21w": -2.1},
            RISK,
            "active days per week falling by 2.1 a week over the last 21 weeks",
            "число активных дней в неделю падает на 2,1 в неделю за последние 21 неделю",
        ),
        ("active_day_gap_mean", {"active_day_gap_mean": 1.2}, RISK, "active every day on average", "в среднем активен каждый день"),
        ("active_day_gap_mean", {"active_day_gap_mean": 2.2}, RISK, "active every 2 days on average", "в среднем активен раз в 2 дня"),
        ("active_day_gap_mean", {"active_day_gap_mean": 21.2}, RISK, "active every 21 days on average", "в среднем активен раз в 21 день"),
        (
            "pending_payout_amount",
            {"pending_payout_amount": 12_400.0, "days_since_last_payout_request": 1.3},
            RISK,
            "unpaid commission 12,400 for 1 day",
            f"невыплаченная комиссия 12{NB}400 уже 1 день",
        ),
        (
            "pending_payout_amount",
            {"pending_payout_amount": 45.5, "days_since_last_payout_request": 21.5},
            RISK,
            "unpaid commission 45.50 for 21 days",
            "невыплаченная комиссия 45,50 уже 21 день",
        ),
        (
            "pending_payout_requests",
            {"pending_payout_requests": 1, "days_since_last_payout_request": 0.4},
            RISK,
            "1 payout request unpaid (the last one less than a day ago)",
            "неоплаченных запросов выплаты: 1 (последний — меньше суток назад)",
        ),
        (
            "pending_payout_requests",
            {"pending_payout_requests": 21, "days_since_last_payout_request": 5.5},
            RISK,
            "21 payout requests unpaid (the last one 5 days ago)",
            "неоплаченных запросов выплаты: 21 (последний — 5 дней назад)",
        ),
        (
            "recency_to_usual_gap",
            {"recency_to_usual_gap": 1.0},
            RISK,
            "silent about as long as the usual gap between active days",
            "пауза примерно равна обычному перерыву между активными днями",
        ),
        (
            "recency_to_usual_gap",
            {"recency_to_usual_gap": 1.5},
            RISK,
            "silent 1.5 times longer than the usual gap between active days",
            "пауза в 1,5 раза дольше обычного перерыва между активными днями",
        ),
        (
            "recency_to_usual_gap",
            {"recency_to_usual_gap": 21.0},
            RISK,
            "silent 21 times longer than the usual gap between active days",
            "пауза в 21 раз дольше обычного перерыва между активными днями",
        ),
        (
            "days_to_first_sale",
            {"days_to_first_sale": 21.4},
            RISK,
            "first sale 21 days after sign-up",
            "первая продажа через 21 день после регистрации",
        ),
    ],
)
def test_representative_sentences_exactly(name: str, row: dict[str, object], target: str, en: str, ru: str) -> None:
    assert describe_feature(name, row, target=target) == en
    assert describe_feature(name, row, target=target, lang="ru") == ru


@pytest.mark.parametrize(
    ("median", "en", "ru"),
    [
        (0.3, "under a day", "меньше суток"),
        (1.3, "1 day", "1 день"),
        (2.5, "2 days", "2 дня"),
        (5.5, "5 days", "5 дней"),
        (21.5, "21 days", "21 день"),
    ],
)
def test_the_typical_value_is_worded_like_the_partner_s(median: float, en: str, ru: str) -> None:
    row, typical = {"days_since_last_sale": 40.4, "segment": "workhorse"}, {"workhorse": {"days_since_last_sale": median}}
    assert describe_feature("days_since_last_sale", row, target=RISK, typical=typical) == f"no sales for 40 days (typical: {en})"
    assert describe_feature("days_since_last_sale", row, target=RISK, lang="ru", typical=typical) == f"нет продаж 40 дней (типично: {ru})"


def test_typical_counts_money_shares_and_trends_are_worded() -> None:
    def typical_of(name: str, value: float, median: float, lang: str = "en") -> str | None:
        return describe_feature(name, {name: value, "segment": "s"}, target=RISK, lang=lang, typical={"s": {name: median}})

    assert typical_of("login_count_90d", 3, 0.0) == "3 logins in the last 90 days (typical: none)"
    assert typical_of("login_count_90d", 3, 0.0, "ru") == "3 входа за последние 90 дней (типично: нет)"
    assert typical_of("revenue_90d", 50.0, 1_234.5) == "revenue 50 in the last 90 days (typical: 1,235)"
    assert typical_of("revenue_share_90d", 0.01, 0.12, "ru") == "1\u00a0% выручки программы за последние 90 дней (типично: 12\u00a0%)"
    assert typical_of("commission_rate", 0.05, 0.075) == "commission rate 5% (typical: 7.5%)"
    assert typical_of("click_trend_30d", -0.6, 0.002) == "clicks fell 75% vs the previous month (typical: flat)"
    assert typical_of("click_trend_30d", -0.6, 1.0) == "clicks fell 75% vs the previous month"  # a typical start from nothing has no percentage
    assert typical_of("weekly_activity_slope_12w", -0.27, 0.12, "ru") == (
        "число активных дней в неделю падает на 0,3 в неделю за последние 12 недель (типично: +0,1 в неделю)"
    )
    assert typical_of("tenure_days", 400.0, 220.0) == "in the program for 13 months"  # no reason, no comparison


@pytest.mark.parametrize(("days", "form"), [(1, "день"), (2, "дня"), (5, "дней"), (11, "дней"), (21, "день"), (22, "дня"), (25, "дней")])
def test_russian_day_forms(days: int, form: str) -> None:
    value = days + 0.4
    assert (
        describe_feature("days_since_last_sale", {"days_since_last_sale": value}, target=GROWTH, lang="ru")
        == f"последняя продажа {days} {form} назад"
    )
    assert (
        describe_feature("days_to_first_sale", {"days_to_first_sale": value}, target=RISK, lang="ru")
        == f"первая продажа через {days} {form} после регистрации"
    )
    if days >= 2:
        assert describe_feature("days_since_last_sale", {"days_since_last_sale": value}, target=RISK, lang="ru") == f"нет продаж {days} {form}"


@pytest.mark.parametrize(
    ("n", "clicks", "sales"),
    [
        (1, "клик", "продажа"),
        (2, "клика", "продажи"),
        (5, "кликов", "продаж"),
        (11, "кликов", "продаж"),
        (21, "клик", "продажа"),
        (22, "клика", "продажи"),
        (25, "кликов", "продаж"),
    ],
)
def test_russian_event_forms(n: int, clicks: str, sales: str) -> None:
    assert describe_feature("click_count_30d", {"click_count_30d": n}, target=RISK, lang="ru") == f"{n} {clicks} за последние 30 дней"
    assert describe_feature("sale_count_90d", {"sale_count_90d": n}, target=RISK, lang="ru") == f"{n} {sales} за последние 90 дней"
    assert describe_feature("sale_count_90d", {"sale_count_90d": 0}, target=RISK, lang="ru") == "нет продаж за последние 90 дней"


def test_plural_ru() -> None:
    forms = ("день", "дня", "дней")
    expected = {
        0: "дней",
        1: "день",
        2: "дня",
        4: "дня",
        5: "дней",
        11: "дней",
        12: "дней",
        14: "дней",
        21: "день",
        22: "дня",
        25: "дней",
        101: "день",
        111: "дней",
        112: "дней",
        1001: "день",
    }
    assert {n: plural_ru(n, *forms) for n in expected} == expected
    assert plural_ru(1.5, *forms) == "дня" and plural_ru(-21, *forms) == "день"


def test_whole_days_are_floored_and_the_usual_gap_rounded() -> None:
    for value in (21.0, 21.4, 21.99):
        assert describe_feature("days_since_last_sale", {"days_since_last_sale": value}, target=RISK) == "no sales for 21 days"
    row = {"days_since_last_activity": 30.0, "active_day_gap_mean": 4.5}
    assert describe_feature("days_since_last_activity", row, target=RISK) == "no activity for 30 days; usually every 5 days"
    row = {"days_since_last_activity": 30.0, "active_day_gap_mean": 1.2}
    assert describe_feature("days_since_last_activity", row, target=RISK) == "no activity for 30 days; usually every day"
    row = {"days_since_last_activity": 3.0, "active_day_gap_mean": 4.5}  # silent less than usual: no "usually"
    assert describe_feature("days_since_last_activity", row, target=RISK) == "no activity for 3 days"


def test_thousands_and_decimals_in_both_languages() -> None:
    assert format_number(12_400) == "12,400" and format_number(12_400, "ru") == f"12{NB}400"
    assert format_number(1_234_567.891, decimals=2) == "1,234,567.89"
    assert format_number(1_234_567.891, "ru", decimals=2) == f"1{NB}234{NB}567,89"
    assert format_number(-1_000) == "-1,000" and format_number(-0.2) == "0" and format_number(2.5) == "3"
    assert format_money(12_400.4) == "12,400" and format_money(12_400.4, "ru") == f"12{NB}400"
    assert format_money(45.5) == "45.50" and format_money(45.5, "ru") == "45,50" and format_money(50.0) == "50"
    assert format_percent(45.4) == "45%" and format_percent(7.5, "ru", decimals=1) == "7,5\u00a0%" and format_percent(0.2) == "under 1%"
    assert format_percent(20, signed=True) == "+20%" and format_percent(-75, "ru", signed=True) == "-75\u00a0%"
    assert format_percent(0.2, "ru") == "менее 1\u00a0%"
    row = {"revenue_90d": 1_234_567.8}
    assert describe_feature("revenue_90d", row, target=GROWTH) == "revenue 1,234,568 in the last 90 days"
    assert describe_feature("revenue_90d", row, target=GROWTH, lang="ru") == f"выручка 1{NB}234{NB}568 за последние 90 дней"
    assert describe_feature("click_count_180d", {"click_count_180d": 1234}, target=GROWTH, lang="ru") == f"1{NB}234 клика за последние 180 дней"


@pytest.mark.parametrize(
    ("trend", "target", "en", "ru"),
    [
        (-0.6, RISK, "clicks fell 75% vs the previous month", "клики упали на 75\u00a0% к прошлому месяцу"),
        (-0.6, GROWTH, "clicks changed -75% vs the previous month", "клики изменились на -75\u00a0% к прошлому месяцу"),
        (1 / 11, RISK, "clicks changed +20% vs the previous month", "клики изменились на +20\u00a0% к прошлому месяцу"),
        (1 / 11, GROWTH, "clicks up 20% vs the previous month", "клики выросли на 20\u00a0% к прошлому месяцу"),
        (0.8, GROWTH, "clicks up 9x vs the previous month", "клики выросли в 9 раз к прошлому месяцу"),
        (0.5, GROWTH, "clicks up 3x vs the previous month", "клики выросли в 3 раза к прошлому месяцу"),
        (1.0, RISK, "clicks started in the last 30 days, none the month before", "клики появились, а месяцем раньше их не было"),
        (-1.0, RISK, "no clicks in the last 30 days; there were some the month before", "нет кликов за последние 30 дней, а месяцем раньше были"),
        (0.0, RISK, "no clicks in the last 60 days", "нет кликов за последние 60 дней"),
    ],
)
def test_trends_state_the_real_change_and_never_a_false_direction(trend: float, target: str, en: str, ru: str) -> None:
    row = {"click_trend_30d": trend, "click_count_30d": 0 if trend in (0.0, -1.0) else 12}
    assert describe_feature("click_trend_30d", row, target=target) == en
    assert describe_feature("click_trend_30d", row, target=target, lang="ru") == ru


def test_a_zero_trend_says_whether_there_was_anything_to_compare() -> None:
    silent = {"activity_trend_30d": 0.0, "days_since_last_activity": 70.0}
    assert describe_feature("activity_trend_30d", silent, target=RISK) == "no activity in the last 60 days"
    assert describe_feature("activity_trend_30d", silent, target=RISK, lang="ru") == "нет активности за последние 60 дней"
    steady = {"activity_trend_30d": 0.002, "days_since_last_activity": 1.0}
    assert describe_feature("activity_trend_30d", steady, target=RISK) == "activity flat vs the previous month"
    assert describe_feature("activity_trend_30d", steady, target=RISK, lang="ru") == "активность на уровне прошлого месяца"


def test_other_directional_templates_turn_neutral_against_the_target() -> None:
    assert describe_feature("weekly_activity_slope_12w", {"weekly_activity_slope_12w": -0.27}, target=RISK) == (
        "active days per week falling by 0.3 a week over the last 12 weeks"
    )
    assert describe_feature("weekly_activity_slope_12w", {"weekly_activity_slope_12w": 0.27}, target=RISK) == (
        "active days per week over the last 12 weeks: trend +0.3 a week"
    )
    assert describe_feature("active_days_30", {"active_days_30": 3}, target=RISK) == "active on only 3 of the last 30 days"
    assert describe_feature("active_days_30", {"active_days_30": 12}, target=GROWTH) == "active on 12 of the last 30 days"
    row = {"active_day_gap_std": 2.0, "active_day_gap_mean": 6.0}
    assert describe_feature("active_day_gap_std", row, target=RISK) == "gaps between active days vary by about 2 days"
    assert describe_feature("active_day_gap_std", row, target=GROWTH) == "steady activity: gaps between active days vary by about 2 days"


def test_money_owed_and_shares() -> None:
    row = {"pending_payout_amount": 12_400.0, "days_since_last_payout_request": 45.2}
    assert describe_feature("pending_payout_amount", row, target=RISK) == "unpaid commission 12,400 for 45 days"
    assert describe_feature("days_since_last_payout_request", row, target=RISK) == "unpaid commission 12,400 for 45 days"
    assert describe_feature("pending_payout_amount", row, target=RISK, lang="ru") == f"невыплаченная комиссия 12{NB}400 уже 45 дней"
    assert describe_feature("pending_payout_amount", {"pending_payout_amount": 60.25}, target=RISK) == "unpaid commission 60.25"
    assert describe_feature("revenue_share_90d", {"revenue_share_90d": 0.004}, target=RISK) == "under 1% of the program's revenue in the last 90 days"
    assert describe_feature("revenue_share_90d", {"revenue_share_90d": 0.0}, target=RISK, lang="ru") == "нет выручки за последние 90 дней"
    assert describe_feature("commission_rate", {"commission_rate": 0.12}, target=GROWTH, lang="ru") == "ставка комиссии 12\u00a0%"


def test_bad_arguments_are_clear_errors(risk_model: TrainedModel) -> None:
    rows = pd.DataFrame([RISKY])
    with pytest.raises(ValueError, match="unknown language 'de'"):
        reasons_for(risk_model, rows, lang="de")
    with pytest.raises(ValueError, match="unknown target"):
        describe_feature("tenure_days", {"tenure_days": 3.0}, target="churn")
    with pytest.raises(ValueError, match="expected \\(1, 2\\)"):
        reasons_from_contributions(np.zeros((1, 3)), ["a", "b"], rows, target=RISK)
    with pytest.raises(ValueError, match="k must be at least 1"):
        reasons_from_contributions(np.zeros((1, 2)), ["a", "b"], rows, target=RISK, k=0)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "gave 3 of 10 in the last survey (12 days ago) (typical: 8); 8 the time before"),
        ("ru", "оценка 3 из 10 в последнем опросе (12 дней назад) (типично: 8); до этого 8"),
    ],
)
def test_a_survey_answer_is_one_sentence_whatever_survey_feature_speaks(lang: str, expected: str) -> None:
    row = {"survey_score_last": 3.0, "survey_score_change": -5.0, "days_since_last_survey": 12.5, "segment": "s"}
    typical = {"s": {"survey_score_last": 8.0}}
    for name in ("survey_score_last", "survey_score_change", "days_since_last_survey"):
        assert describe_feature(name, row, target=RISK, lang=lang, typical=typical) == expected
    single = describe_feature("survey_score_last", {"survey_score_last": 7.5, "days_since_last_survey": 0.2}, target=RISK, lang=lang)
    assert single == (
        "gave 7.5 of 10 in the last survey (less than a day ago)" if lang == "en" else "оценка 7,5 из 10 в последнем опросе (меньше суток назад)"
    )


def test_a_recent_detractor_answer_leads_the_facts_an_old_or_good_one_comes_last() -> None:
    names = fact_features(Config())
    rows = pd.DataFrame(
        {
            "days_since_last_activity": [2.0, 2.0, 2.0],
            "days_since_last_sale": [40.0, 40.0, 40.0],
            "active_days_30": [3, 3, 3],
            "revenue_90d": [0.0, 0.0, 0.0],
            "survey_score_last": [2.0, 2.0, 9.0],
            "survey_score_change": [np.nan, np.nan, np.nan],
            "days_since_last_survey": [10.0, 200.0, 10.0],  # the second answer is older than the NPS window
        }
    )
    recent, old, good = facts_for(rows, names=names, k=3)
    assert recent[0] == "gave 2 of 10 in the last survey (10 days ago)"
    assert not any("survey" in sentence for sentence in old + good)  # the other facts fill the three first
