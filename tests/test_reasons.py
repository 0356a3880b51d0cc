"""Reasons in words: the partner's own numbers, Russian grammar, merged stories, and a real tiny model."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from features.schema import feature_schema
from partner_churn.config import Config, LightGBMConfig
from segments import reasons as reasons_module
from segments.reasons import (
    RU_GROUP_SEPARATOR,
    describe_feature,
    format_money,
    format_number,
    format_percent,
    has_template,
    plural_ru,
    reasons_for,
    reasons_from_contributions,
    template_family,
)
from training.model import TrainedModel, fit_model

RISK, GROWTH = "deactivation_risk", "upgrade_potential"
NB = RU_GROUP_SEPARATOR
MODEL_FEATURES = [
    "days_since_last_activity", "days_since_last_sale", "days_since_last_payout_request", "active_days_30",
    "sale_count_30d", "sale_count_90d", "click_trend_30d", "active_day_gap_mean", "recency_to_usual_gap",
    "pending_payout_amount", "revenue_30d", "partner_type",
]
RISKY = {
    "days_since_last_activity": 21.4, "days_since_last_sale": 21.4, "days_since_last_payout_request": 45.7,
    "active_days_30": 2, "sale_count_30d": 0, "sale_count_90d": 1, "click_trend_30d": -0.6, "active_day_gap_mean": 4.3,
    "recency_to_usual_gap": 21.4 / 4.3, "pending_payout_amount": 12_400.0, "revenue_30d": 0.0, "partner_type": "blogger",
}
SAFE = {
    **RISKY, "days_since_last_activity": 0.5, "days_since_last_sale": 1.2, "active_days_30": 25, "click_trend_30d": 0.5,
    "pending_payout_amount": 0.0, "recency_to_usual_gap": 0.5 / 4.3, "sale_count_30d": 9, "sale_count_90d": 30,
}


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


def test_a_clearly_risky_partner_gets_three_reasons_with_its_own_numbers(risk_model: TrainedModel) -> None:
    rows = pd.DataFrame([RISKY], index=[17])
    assert risk_model.predict(rows)[0] > 0.6
    (english,) = reasons_for(risk_model, rows)
    (russian,) = reasons_for(risk_model, rows, lang="ru")
    assert len(english) == 3 and len(russian) == 3 and len(set(english)) == 3
    assert english[0] == "no activity for 21 days; usually every 4 days"  # 21.4 days -> 21 whole days; gap 4.3 -> 4
    assert russian[0] == "нет активности 21 день; обычно — раз в 4 дня"
    assert "clicks fell 75% vs the previous month" in english  # trend -0.6: the last month is a quarter of the one before
    assert "клики упали на 75% к прошлому месяцу" in russian
    assert "unpaid commission 12,400 for 45 days" in english
    assert f"невыплаченная комиссия 12{NB}400 уже 45 дней" in russian
    assert sum("usually" in text for text in english) == 1


def test_reasons_follow_the_positive_contributions_in_order(risk_model: TrainedModel) -> None:
    rows = pd.DataFrame([RISKY, SAFE])
    contributions = risk_model.contributions(rows)
    got = reasons_for(risk_model, rows, k=10)
    for i, found in enumerate(got):
        positive = int((contributions[i] > reasons_module.MIN_CONTRIBUTION).sum())
        assert len(found) <= positive
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
    assert risky == ["no activity for 21 days; usually every 4 days", "clicks fell 75% vs the previous month"]
    assert safe == []


def test_an_upgrade_model_gives_reasons_to_grow() -> None:
    model = train(GROWTH, MODEL_FEATURES)
    grower = {**SAFE, "click_trend_30d": 1 / 11}  # the last month 20% above the one before
    (found,) = reasons_for(model, pd.DataFrame([grower]))
    assert found and "clicks up 20% vs the previous month" in found
    assert not any(text.startswith("no activity for") for text in found)


# -- choosing and merging, on hand-made contributions ----------------------------------------------------
def choose(contributions: dict[str, float], row: dict[str, object], *, target: str = RISK, k: int = 3, lang: str = "en") -> list[str]:
    names = list(contributions)
    frame = pd.DataFrame([row])
    (found,) = reasons_from_contributions(np.array([[contributions[n] for n in names]]), names, frame, target=target, k=k, lang=lang)
    return found


def test_features_telling_one_story_give_one_sentence() -> None:
    row = {**RISKY, "sale_count_7d": 0, "click_count_30d": 3}
    found = choose(
        {
            "days_since_last_activity": 0.9, "recency_to_usual_gap": 0.8, "active_days_30": 0.7, "active_day_gap_mean": 0.6,
            "sale_count_30d": 0.5, "sale_count_7d": 0.45, "sale_count_90d": 0.4, "days_since_last_sale": 0.35, "revenue_30d": 0.3,
            "click_trend_30d": 0.2, "click_count_30d": 0.1,
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


def test_values_that_say_nothing_are_skipped_and_the_next_feature_speaks() -> None:
    row = {**RISKY, "days_since_last_sale": np.nan, "pending_payout_amount": 0.0, "partner_type": None}
    found = choose({"days_since_last_sale": 0.9, "pending_payout_amount": 0.8, "partner_type": 0.7, "sale_count_30d": 0.5}, row)
    assert found == ["no sales in the last 30 days"]
    assert describe_feature("days_since_last_sale", {"days_since_last_sale": np.nan}, target=RISK) is None
    assert describe_feature("days_since_last_sale", {"days_since_last_sale": np.inf}, target=RISK) is None
    assert describe_feature("unpaid_commission", {"unpaid_commission": 0.0}, target=RISK) is None


def test_negative_and_zero_contributions_are_not_reasons() -> None:
    assert choose({"days_since_last_activity": 0.0, "click_trend_30d": -0.4, "active_days_30": 1e-9}, RISKY) == []


# -- templates ---------------------------------------------------------------------------------------------
def full_row() -> dict[str, object]:
    row: dict[str, object] = {
        "tenure_days": 400.3, "onboarding_events_72h": 0, "days_to_first_link": 0.3, "days_to_first_lead": 12.5,
        "days_to_first_sale": 21.4, "days_since_last_training": 30.0, "days_since_last_payout": 60.0,
        "days_since_last_login": 22.1, "days_since_last_click": 25.0, "days_since_last_lead": 30.2, "active_days_90": 40,
        "activity_trend_30d": -0.6, "revenue_trend_30d": 0.9, "weekly_activity_slope_12w": -0.27, "active_day_gap_std": 6.2,
        "lead_per_click_90d": 0.153, "sale_per_lead_90d": 0.25, "pending_payout_requests": 2, "unpaid_commission": 45.5,
        "revenue_share_30d": 0.0041, "revenue_share_90d": 0.123, "country": "RU", "commission_rate": 0.075, **RISKY,
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
    assert set(reasons_module._TEXT["en"]) == set(reasons_module._TEXT["ru"])


def test_an_unknown_declared_attribute_is_still_worded() -> None:
    assert not has_template("channel")
    assert describe_feature("channel", {"channel": "youtube"}, target=RISK) == "channel: youtube"


@pytest.mark.parametrize(
    ("days", "form"), [(1, "день"), (2, "дня"), (5, "дней"), (11, "дней"), (21, "день"), (22, "дня"), (25, "дней")]
)
def test_russian_day_forms(days: int, form: str) -> None:
    value = days + 0.4
    assert describe_feature("days_since_last_sale", {"days_since_last_sale": value}, target=GROWTH, lang="ru") == f"последняя продажа {days} {form} назад"
    assert describe_feature("days_to_first_sale", {"days_to_first_sale": value}, target=RISK, lang="ru") == f"первая продажа через {days} {form} после регистрации"
    if days >= 2:
        assert describe_feature("days_since_last_sale", {"days_since_last_sale": value}, target=RISK, lang="ru") == f"нет продаж {days} {form}"


@pytest.mark.parametrize(
    ("n", "clicks", "sales"),
    [(1, "клик", "продажа"), (2, "клика", "продажи"), (5, "кликов", "продаж"), (11, "кликов", "продаж"),
     (21, "клик", "продажа"), (22, "клика", "продажи"), (25, "кликов", "продаж")],
)
def test_russian_event_forms(n: int, clicks: str, sales: str) -> None:
    assert describe_feature("click_count_30d", {"click_count_30d": n}, target=RISK, lang="ru") == f"{n} {clicks} за последние 30 дней"
    assert describe_feature("sale_count_90d", {"sale_count_90d": n}, target=RISK, lang="ru") == f"{n} {sales} за последние 90 дней"
    assert describe_feature("sale_count_90d", {"sale_count_90d": 0}, target=RISK, lang="ru") == "нет продаж за последние 90 дней"


def test_plural_ru() -> None:
    forms = ("день", "дня", "дней")
    expected = {0: "дней", 1: "день", 2: "дня", 4: "дня", 5: "дней", 11: "дней", 12: "дней", 14: "дней", 21: "день",
                22: "дня", 25: "дней", 101: "день", 111: "дней", 112: "дней", 1001: "день"}
    assert {n: plural_ru(n, *forms) for n in expected} == expected
    assert plural_ru(1.5, *forms) == "дня" and plural_ru(-21, *forms) == "день"


def test_whole_days_are_floored_and_the_usual_gap_rounded() -> None:
    for value in (21.0, 21.4, 21.99):
        assert describe_feature("days_since_last_sale", {"days_since_last_sale": value}, target=RISK) == "no sales for 21 days"
    assert describe_feature("days_since_last_sale", {"days_since_last_sale": 0.4}, target=RISK) == "last sale less than a day ago"
    assert describe_feature("days_since_last_sale", {"days_since_last_sale": 1.4}, target=RISK) == "last sale 1 day ago"
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
    assert format_percent(45.4) == "45%" and format_percent(7.5, "ru", decimals=1) == "7,5%" and format_percent(0.2) == "under 1%"
    assert format_percent(20, signed=True) == "+20%" and format_percent(-75, "ru", signed=True) == "-75%"
    row = {"revenue_90d": 1_234_567.8}
    assert describe_feature("revenue_90d", row, target=GROWTH) == "revenue 1,234,568 in the last 90 days"
    assert describe_feature("revenue_90d", row, target=GROWTH, lang="ru") == f"выручка 1{NB}234{NB}568 за последние 90 дней"
    assert describe_feature("click_count_180d", {"click_count_180d": 1234}, target=GROWTH, lang="ru") == f"1{NB}234 клика за последние 180 дней"


@pytest.mark.parametrize(
    ("trend", "target", "en", "ru"),
    [
        (-0.6, RISK, "clicks fell 75% vs the previous month", "клики упали на 75% к прошлому месяцу"),
        (-0.6, GROWTH, "clicks changed -75% vs the previous month", "клики изменились на -75% к прошлому месяцу"),
        (1 / 11, RISK, "clicks changed +20% vs the previous month", "клики изменились на +20% к прошлому месяцу"),
        (1 / 11, GROWTH, "clicks up 20% vs the previous month", "клики выросли на 20% к прошлому месяцу"),
        (0.8, GROWTH, "clicks up 9x vs the previous month", "клики выросли в 9 раз к прошлому месяцу"),
        (0.5, GROWTH, "clicks up 3x vs the previous month", "клики выросли в 3 раза к прошлому месяцу"),
        (1.0, RISK, "clicks in the last 30 days after none the month before", "клики появились, а месяцем раньше их не было"),
        (-1.0, RISK, "no clicks in the last 30 days after some the month before", "нет кликов за последние 30 дней, а месяцем раньше были"),
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
        "active days per week falling over the last 12 weeks (-0.3 a week)"
    )
    assert describe_feature("weekly_activity_slope_12w", {"weekly_activity_slope_12w": 0.27}, target=RISK) == (
        "active days per week over the last 12 weeks: trend +0.3 a week"
    )
    assert describe_feature("active_days_30", {"active_days_30": 3}, target=RISK) == "active on only 3 of the last 30 days"
    assert describe_feature("active_days_30", {"active_days_30": 21}, target=RISK) == "active on 21 of the last 30 days"
    assert describe_feature("active_days_30", {"active_days_30": 21}, target=RISK, lang="ru") == "активен 21 день из последних 30"
    assert describe_feature("active_days_30", {"active_days_30": 12}, target=GROWTH) == "active on 12 of the last 30 days"
    row = {"active_day_gap_std": 2.0, "active_day_gap_mean": 6.0}
    assert describe_feature("active_day_gap_std", row, target=RISK) == "gaps between active days vary by about 2 days"
    assert describe_feature("active_day_gap_std", row, target=GROWTH) == "steady activity: gaps between active days vary by about 2 days"


def test_money_owed_and_shares() -> None:
    row = {"pending_payout_amount": 12_400.0, "days_since_last_payout_request": 45.2}
    assert describe_feature("pending_payout_amount", row, target=RISK) == "unpaid commission 12,400 for 45 days"
    assert describe_feature("pending_payout_amount", row, target=RISK, lang="ru") == f"невыплаченная комиссия 12{NB}400 уже 45 дней"
    assert describe_feature("pending_payout_amount", {"pending_payout_amount": 60.25}, target=RISK) == "unpaid commission 60.25"
    assert describe_feature("revenue_share_90d", {"revenue_share_90d": 0.004}, target=RISK) == "under 1% of the program's revenue in the last 90 days"
    assert describe_feature("revenue_share_90d", {"revenue_share_90d": 0.0}, target=RISK, lang="ru") == "нет выручки за последние 90 дней"
    assert describe_feature("commission_rate", {"commission_rate": 0.12}, target=GROWTH, lang="ru") == "ставка комиссии 12%"


def test_bad_arguments_are_clear_errors(risk_model: TrainedModel) -> None:
    rows = pd.DataFrame([RISKY])
    with pytest.raises(ValueError, match="unknown language 'de'"):
        reasons_for(risk_model, rows, lang="de")
    with pytest.raises(ValueError, match="unknown target"):
        describe_feature("tenure_days", {"tenure_days": 3.0}, target="churn")
    with pytest.raises(ValueError, match="expected \\(1, 2\\)"):
        reasons_from_contributions(np.zeros((1, 3)), ["a", "b"], rows, target=RISK)


def test_counts_are_compared_with_the_typical_partner() -> None:
    """A bare count says nothing; next to the training median it says why it pushes the score."""
    rows = pd.DataFrame({"login_count_90d": [8.0], "revenue_30d": [120.0], "days_since_last_login": [3.0]})
    contributions = np.array([[0.5, 0.2, 0.1]])
    names = ["login_count_90d", "revenue_30d", "days_since_last_login"]
    typical = {"all": {"login_count_90d": 25.0, "revenue_30d": 120.4, "days_since_last_login": 1.0}}
    en = reasons_from_contributions(contributions, names, rows, target="deactivation_risk", typical=typical)[0]
    assert en[0] == "8 logins in the last 90 days (typical: 25)"
    assert en[1] == "revenue 120 in the last 30 days"  # equal to the typical value once rounded: no comparison
    assert all("typical" not in sentence for sentence in en[2:])  # recency is not a compared family
    ru = reasons_from_contributions(contributions, names, rows, target="deactivation_risk", lang="ru", typical=typical)[0]
    assert ru[0] == "8 входов за последние 90 дней (обычно: 25)"
    assert reasons_from_contributions(contributions, names, rows, target="deactivation_risk")[0][0] == "8 logins in the last 90 days"
    busy = rows.assign(login_count_90d=80.0, segment="workhorse")
    by_segment = {"all": typical["all"], "workhorse": {"login_count_90d": 120.0}}
    assert reasons_from_contributions(contributions, names, busy, target="deactivation_risk", typical=by_segment)[0][0] == (
        "80 logins in the last 90 days (typical: 120)"  # compared with Workhorses, not with everyone
    )
    assert all("logins in the last 90 days" not in sentence for sentence in reasons_from_contributions(
        contributions, names, busy, target="deactivation_risk", typical=typical)[0])  # busier than typical: no risk reason
