"""Drift and realized performance on frames built in the test (against brute-force references), the drift
summary page (verdict first, dates, models, drifted features with their meaning and distribution, in English
and Russian, small and self-contained) and the verdict. `partner-churn monitor` end to end on generated
programs is in test_monitoring.py."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.schema import feature_schema
from monitoring import drift, store
from monitoring.performance import compare_with_backtest, evaluate, realized_predictions
from monitoring.summary import render_summary
from monitoring.verdict import Recommendation, combine, recommend
from monitoring.wording import TEXT as SUMMARY_TEXT
from monitoring.wording import VERDICTS, feature_meaning, russian_meanings, unknown_meanings
from partner_churn.config import Config, MonitoringConfig
from partner_churn.errors import InputError
from tests.support import Links
from training.backtest import backtest_table

CONFIG = Config()
SCHEMA = feature_schema(CONFIG)
KINDS = drift.column_kinds(SCHEMA)


def population(n: int, seed: int, *, cutoffs: int = 4, shift: dict[str, float] | None = None) -> pd.DataFrame:
    """Active partners with every feature of the schema and both scores, drawn from fixed distributions."""
    rng = np.random.default_rng(seed)
    later = [name for name in KINDS if "survey" in name]  # added to the schema later: drawn last, so the others keep their values
    frame = pd.DataFrame({name: rng.gamma(2.0, 3.0, n) for name, kind in KINDS.items() if kind == "numerical" and name not in later})
    frame["tenure_days"] = rng.uniform(0, 300, n)
    frame["active_days_30"] = rng.integers(1, 20, n)
    frame["deactivation_risk"] = rng.beta(2, 6, n)
    frame["upgrade_potential"] = rng.beta(1, 9, n)
    frame["partner_type"] = rng.choice(["blogger", "agency", "individual"], n)
    frame["country"] = rng.choice(["RU", "KZ", "DE"], n)
    frame["as_of"] = pd.to_datetime("2025-06-01", utc=True) + pd.to_timedelta(rng.integers(0, cutoffs, n) * 14, unit="D")
    for name in later:
        frame[name] = rng.gamma(2.0, 3.0, n)
    for column, by in (shift or {}).items():
        frame[column] = frame[column] + by * frame[column].std()
    return frame


# ---------------------------------------------------------------------------------------------------
# Drift: the pieces


def test_column_types_come_from_the_feature_schema() -> None:
    assert KINDS["partner_type"] == KINDS["country"] == "categorical"
    assert KINDS["tenure_days"] == KINDS["revenue_30d"] == KINDS["deactivation_risk"] == "numerical"
    assert len(KINDS) == len(SCHEMA) + 2


def test_tenure_matching_against_a_brute_force_count() -> None:
    reference = pd.DataFrame({"tenure_days": [1, 2, 3, 11, 12, 25, 26, 27, 28, 95], "x": range(10)})
    current = pd.DataFrame({"tenure_days": [5, 14, 14, 16, 29, 90, 200]})
    ref, cur, coverage = drift.tenure_matched(reference, current, bin_days=10, min_rows=2, seed=0)
    # Bins of 10 days: the reference covers [0,10) 3 rows, [10,20) 2, [20,30) 4; [90,100) has 1 row only.
    assert cur["tenure_days"].tolist() == [5, 14, 14, 16, 29]
    assert coverage == pytest.approx(5 / 7)
    assert len(ref) == len(reference)
    # The current mix over the covered bins is 1 : 3 : 1; the resampled reference follows it.
    counts = (ref["tenure_days"] // 10).value_counts().sort_index().tolist()
    assert counts == [2, 6, 2]
    assert set(ref["x"]) <= set(reference["x"])


def test_tenure_matching_refuses_when_nothing_is_covered() -> None:
    reference = pd.DataFrame({"tenure_days": [1.0, 2.0]})
    with pytest.raises(InputError, match="no current active partner"):
        drift.tenure_matched(reference, pd.DataFrame({"tenure_days": [500.0]}), bin_days=10, min_rows=1, seed=0)


def test_a_columns_bar_is_the_larger_of_the_threshold_and_its_own_drift_within_the_reference() -> None:
    settings = MonitoringConfig(numerical_threshold=0.1, categorical_threshold=0.2, score_drift_threshold=0.15, natural_drift_factor=3)
    natural = {"revenue_30d": 0.05, "login_count_7d": 0.01, "country": float("nan"), "deactivation_risk": 0.1}
    bars = drift.thresholds(
        {"revenue_30d": "numerical", "login_count_7d": "numerical", "country": "categorical", "deactivation_risk": "numerical"}, natural, settings
    )
    assert bars == pytest.approx({"revenue_30d": 0.15, "login_count_7d": 0.1, "country": 0.2, "deactivation_risk": 0.3})


def test_natural_drift_sees_a_column_that_moves_during_the_reference_period() -> None:
    reference = population(4_000, 1)
    later = reference["as_of"] >= reference["as_of"].sort_values().iloc[2_000]
    reference.loc[later, "revenue_30d"] += 2 * reference["revenue_30d"].std()
    natural = drift.natural_drift(reference, KINDS, CONFIG.monitoring)
    assert natural["revenue_30d"] > 1.0
    assert natural["click_count_30d"] < 0.15 and natural["country"] < 0.1
    assert all(np.isnan(v) for v in drift.natural_drift(reference.assign(as_of=reference["as_of"].min()), KINDS, CONFIG.monitoring).values())


def test_column_drift_score_is_evidentlys_normed_wasserstein_distance() -> None:
    from scipy.stats import wasserstein_distance

    a, b = pd.Series(np.arange(100.0)), pd.Series(np.arange(100.0) + 10)
    expected = wasserstein_distance(a, b) / np.std(a)
    assert drift.column_drift_score(a, b, "numerical", CONFIG.monitoring) == pytest.approx(expected)
    assert np.isnan(drift.column_drift_score(a, pd.Series([np.nan]), "numerical", CONFIG.monitoring))


@pytest.mark.slow
def test_compare_flags_shifted_columns_and_keeps_the_rest() -> None:
    """Seven features moved by half a standard deviation: more than the share threshold, so retrain; no other
    column and no score moves past its bar."""
    moved = ["revenue_30d", "revenue_90d", "click_count_30d", "lead_count_30d", "sale_count_30d", "payout_paid_amount_30d", "unpaid_commission"]
    reference = population(3_000, 1)
    current = population(1_500, 2, shift={c: 0.5 for c in moved}).drop(columns="as_of")
    result, snapshot = drift.compare(reference, current, SCHEMA, CONFIG, as_of=pd.Timestamp("2026-01-01", tz="UTC"))
    drifted = {c.column for c in result.columns if c.drifted}
    assert drifted == set(moved)
    assert result.dataset_drift and not result.score_drift and result.recommendation.action == "retrain"
    assert result.drifted_features == 7 and result.share_drifted == pytest.approx(7 / len(SCHEMA))
    # Evidently's own count, with the same per-column methods and bars, agrees.
    counted = next(m for m in snapshot.dict()["metrics"] if m["config"]["type"].endswith("DriftedColumnsCount"))
    assert counted["value"]["count"] == 7
    payload = result.to_json()
    assert payload["drifted_features"] == 7 and payload["dataset_drift"] is True
    assert {"column", "drift_score", "method", "threshold", "drifted"} <= set(payload["columns"][0])
    assert payload["sampling"]["compared_current_rows"] == 1_500 and not payload["sampling"]["sampled"]
    assert json.dumps(payload)  # serializable as it is

    same, _ = drift.compare(reference, population(1_500, 3).drop(columns="as_of"), SCHEMA, CONFIG, as_of=pd.Timestamp("2026-01-01", tz="UTC"))
    assert same.drifted_features == 0 and same.recommendation.action == "keep"


@pytest.mark.slow
def test_compare_samples_large_populations_and_says_so() -> None:
    settings = CONFIG.model_copy(update={"monitoring": CONFIG.monitoring.model_copy(update={"sample_size": 500})})
    result, _ = drift.compare(
        population(2_000, 1), population(1_200, 2).drop(columns="as_of"), SCHEMA, settings, as_of=pd.Timestamp("2026-01-01", tz="UTC")
    )
    s = result.sampling
    assert s.sampled and s.compared_current_rows == 500 and s.compared_reference_rows == 500 and s.current_rows == 1_200
    assert "sampled from 1,200" in result.summary_line()


@pytest.mark.slow
def test_a_column_with_values_on_one_side_only_counts_as_drifted() -> None:
    """Evidently cannot compare an empty column; a feature that vanished is drifted, one empty on both sides is not."""
    reference = population(800, 1).assign(unpaid_commission=np.nan)
    current = population(400, 2).drop(columns="as_of").assign(days_to_first_sale=np.nan, unpaid_commission=np.nan)
    result, _ = drift.compare(reference, current, SCHEMA, CONFIG, as_of=pd.Timestamp("2026-01-01", tz="UTC"))
    by_column = {c.column: c for c in result.columns}
    assert by_column["days_to_first_sale"].drifted and by_column["days_to_first_sale"].method == "values in the reference only"
    assert not by_column["unpaid_commission"].drifted and by_column["unpaid_commission"].method == "no values on either side"
    assert len(result.features) == len(SCHEMA) and result.to_json()["columns"][0]["column"] == "tenure_days"


def test_the_current_population_must_belong_to_the_risk_list() -> None:
    # days since the last qualifying event: within the active window (30 days) for a and c only
    features = pd.DataFrame({"partner_id": ["a", "b", "c"], "days_since_last_activity": [2.0, 31.0, 30.0], "tenure_days": [10.0, 20.0, 30.0]})
    risk_list = pd.DataFrame({"partner_id": ["a", "b", "c"], "deactivation_risk": [0.2, np.nan, 0.4], "upgrade_potential": [0.1, 0.2, 0.3]})
    assert drift.current_population(features, risk_list, CONFIG)["partner_id"].tolist() == ["a", "c"]
    with pytest.raises(InputError, match="other partners than those active"):
        drift.current_population(features, risk_list.assign(deactivation_risk=[np.nan, 0.3, np.nan]), CONFIG)
    with pytest.raises(InputError, match="none of the partners"):
        drift.current_population(features, risk_list.assign(partner_id=["x", "y", "z"]), CONFIG)
    with pytest.raises(InputError, match="no column upgrade_potential"):
        drift.current_population(features, risk_list.drop(columns="upgrade_potential"), CONFIG)


# ---------------------------------------------------------------------------------------------------
# The drift summary page

SHIFTED = "revenue_30d"
"""The one feature the summary tests move (by one standard deviation)."""
SCORING_MODELS = {
    "deactivation_risk": {"name": "partner-churn-deactivation-risk", "version": "3", "run_id": "run-1", "champion": True},
    "upgrade_potential": {"name": "partner-churn-upgrade-potential", "version": "2", "run_id": "run-1", "champion": False},
}


@pytest.fixture(scope="module")
def checked() -> dict[str, tuple[drift.DriftResult, pd.DataFrame]]:
    """Drift results of one reference against a population with SHIFTED moved and an unchanged one."""
    reference = population(3_000, 1)
    as_of = pd.Timestamp("2026-01-01", tz="UTC")
    found = {}
    for name, current in (("moved", population(1_500, 2, shift={SHIFTED: 1.0})), ("same", population(1_500, 3))):
        result, _ = drift.compare(reference, current.drop(columns="as_of"), SCHEMA, CONFIG, as_of=as_of)
        result.model = SCORING_MODELS
        found[name] = (result, reference)
    return found


def section(page: str, name: str) -> str:
    start = page.index(f'id="{name}"')
    return page[start : page.index("</section>", start) if "</section>" in page[start:] else len(page)]


@pytest.mark.slow
def test_the_summary_page_gives_dates_models_and_verdict_before_the_drifted_feature(checked: dict) -> None:
    result, reference = checked["moved"]
    assert [c.column for c in result.features if c.drifted] == [SHIFTED]
    page = render_summary(result, SCHEMA, CONFIG, lang="en")
    assert len(page.encode("utf-8")) < 100_000
    # Dates: the scoring and the reference's first and last training cutoffs, counted in the test.
    cutoffs = pd.to_datetime(drift.active_rows(reference, CONFIG)["as_of"])
    assert "Scoring of 2026-01-01" in page
    assert f"{cutoffs.min():%Y-%m-%d} – {cutoffs.max():%Y-%m-%d} ({cutoffs.nunique()} cutoffs)" in page
    assert "partner-churn-deactivation-risk v3 (champion)" in page and "partner-churn-upgrade-potential v2 (no longer champion)" in page
    # The verdict (the result's own, one definition) and why, before the features.
    assert page.index('id="verdict"') < page.index('id="features"')
    verdict = section(page, "verdict")
    assert result.recommendation.action == "keep" and f'<span class="badge">{VERDICTS["en"]["keep"][0]}</span>' in verdict
    assert f"1 of the {len(SCHEMA)} features the models read changed beyond its bar ({SHIFTED})" in verdict
    # The drifted feature: its name, its meaning from the schema, its figures and its before/after histogram.
    features = section(page, "features")
    assert "Features that drifted (1 of" in features and features.count('<article class="feature">') == 1
    spec = next(s for s in SCHEMA if s.name == SHIFTED)
    assert f"<code>{SHIFTED}</code>" in features and html.escape(spec.description) in features
    moved = next(c for c in result.features if c.column == SHIFTED)
    assert f"Change {moved.drift_score:.2f} against a bar of {moved.threshold:.2f}: drifted." in features
    shown = result.distributions[SHIFTED]
    assert features.count("<svg") == 1 and features.count("<rect") == sum(share > 0 for share in (*shown.reference, *shown.current))


@pytest.mark.slow
def test_the_summary_page_is_self_contained(checked: dict) -> None:
    page = render_summary(checked["moved"][0], SCHEMA, CONFIG, lang="en")
    links = Links(page)
    assert "script" not in links.tags and "link" not in links.tags and "img" not in links.tags
    assert links.linked == [("a", "href", "drift.html"), ("a", "href", "drift.json")]  # Evidently's report and the figures, beside it
    assert 'http-equiv="Content-Security-Policy"' in page and "http" not in page.replace('http-equiv="Content-Security-Policy"', "")


@pytest.mark.slow
def test_the_summary_page_says_when_nothing_drifted_and_shows_the_nearest(checked: dict) -> None:
    result, _ = checked["same"]
    assert result.drifted_features == 0 and result.recommendation.action == "keep"
    page = render_summary(result, SCHEMA, CONFIG, lang="en")
    assert "No feature and no score changed beyond its bar" in section(page, "verdict")
    features = section(page, "features")
    assert "No feature drifted: the nearest to their bar" in features
    nearest = sorted((c for c in result.features if np.isfinite(c.drift_score)), key=lambda c: c.drift_score / c.threshold, reverse=True)[:3]
    shown = [part.split("</code>")[0] for part in features.split("<code>")[1:]]
    assert shown == [c.column for c in nearest]
    assert features.count("<svg") == 3 and "drifted</span>" not in features


@pytest.mark.slow
def test_the_summary_page_in_russian_has_no_english_headings(checked: dict) -> None:
    result, _ = checked["moved"]
    russian = CONFIG.model_copy(update={"scoring": CONFIG.scoring.model_copy(update={"lang": "ru"})})
    page = render_summary(result, SCHEMA, russian)  # the language of scoring.lang
    assert page.startswith("<!DOCTYPE html>") and '<html lang="ru">' in page
    text = " ".join(Links(page).text)
    for key in ("title", "verdict", "scores", "features_drifted", "features_none", "how", "models", "before", "after"):
        english = SUMMARY_TEXT["en"][key].split("{")[0].strip()
        assert english not in text, key
    for key in ("title", "verdict", "scores", "how"):
        assert SUMMARY_TEXT["ru"][key] in text
    assert "Расчёт на 01.01.2026" in text and f"Признаки с дрейфом (1 из {len(SCHEMA)})" in text
    assert "partner-churn-deactivation-risk v3 (чемпион)" in text and "partner-churn-upgrade-potential v2 (уже не чемпион)" in text
    assert f'<span class="badge">{VERDICTS["ru"]["keep"][0]}</span>' in page
    spec = next(s for s in SCHEMA if s.name == SHIFTED)
    assert feature_meaning(spec, CONFIG, "ru") == "Сумма продаж за последние 30 дней." and "Сумма продаж за последние 30 дней." in text
    assert spec.description not in text
    nothing = render_summary(checked["same"][0], SCHEMA, CONFIG, lang="ru")
    assert SUMMARY_TEXT["ru"]["features_none"] in nothing and SUMMARY_TEXT["en"]["features_none"] not in nothing


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_at_1366_px_the_summary_page_fits_the_window_in_chromium(checked: dict, tmp_path: Path, lang: str) -> None:
    from tests.support import LAYOUT, browser_facts

    page = tmp_path / f"drift_summary.{lang}.html"
    page.write_text(render_summary(checked["moved"][0], SCHEMA, CONFIG, lang=lang), encoding="utf-8")
    facts = browser_facts(page, tmp_path / "profile", LAYOUT % "#scores table")
    assert facts["page"] <= facts["window"] == 1366, facts
    assert 0 < facts["table"] <= facts["box"], facts
    assert facts["lang"] == lang and SUMMARY_TEXT[lang]["verdict"] in facts["text"] and SHIFTED in facts["text"]


def test_every_feature_has_a_meaning_in_russian_for_other_windows_too() -> None:
    assert unknown_meanings(SCHEMA, CONFIG) == []
    other = CONFIG.model_copy(update={"features": CONFIG.features.model_copy(update={"windows_days": [14, 60], "trend_window_days": 14})})
    assert unknown_meanings(feature_schema(other), other) == []
    meanings = russian_meanings(other)
    assert meanings["click_count_14d"] == "Число кликов за последние 14 дней."
    assert meanings["activity_trend_14d"].startswith("Рост или спад активности: (последние 14 дней − предыдущие 14 дней)")


def test_a_distribution_bins_both_sides_alike() -> None:
    # Whole numbers spanning fewer values than bins: one bin a value; missing values are counted apart.
    whole = drift.distribution(pd.Series([0, 1, 1, 2, np.nan]), pd.Series([2, 2, 3, np.nan, np.nan]), "numerical")
    assert whole.integer and whole.edges == (-0.5, 0.5, 1.5, 2.5, 3.5)
    assert whole.reference == pytest.approx((0.25, 0.5, 0.25, 0.0)) and whole.current == pytest.approx((0.0, 0.0, 2 / 3, 1 / 3))
    assert (whole.reference_missing, whole.current_missing) == pytest.approx((0.2, 0.4))
    assert (whole.reference_median, whole.current_median) == (1.0, 2.0)
    # Real numbers: HISTOGRAM_BINS equal bins between the pooled tail quantiles, values beyond in the end bins.
    reference, current = pd.Series(np.arange(101.0)), pd.Series(np.arange(101.0) + 50.5)
    binned = drift.distribution(reference, current, "numerical")
    pooled = np.concatenate([reference, current])
    low, high = np.quantile(pooled, [drift.TAIL_QUANTILE, 1 - drift.TAIL_QUANTILE])
    assert not binned.integer and binned.edges[0] == pytest.approx(low) and binned.edges[-1] == pytest.approx(high)
    width = (high - low) / drift.HISTOGRAM_BINS
    for side, shares in ((reference, binned.reference), (current, binned.current)):
        counts = [0] * drift.HISTOGRAM_BINS
        for value in side:
            counts[min(max(int((value - low) // width), 0), drift.HISTOGRAM_BINS - 1)] += 1
        assert shares == pytest.approx(tuple(n / len(side) for n in counts))
    # Categories: the most common over both sides, the rest in one bin.
    categories = drift.distribution(pd.Series(["a", "a", "a", "b"]), pd.Series(["a", "b", "c", None]), "categorical")
    assert categories.categories == ("a", "b", "c") and not categories.other
    assert categories.reference == pytest.approx((0.75, 0.25, 0.0)) and categories.current == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert categories.current_missing == pytest.approx(0.25)
    many = drift.distribution(pd.Series([f"c{i}" for i in range(12)] * 2), pd.Series(["c0"] * 5), "categorical")
    assert len(many.categories) == drift.TOP_CATEGORIES and many.other and sum(many.reference) == pytest.approx(1.0)


def test_a_report_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "drift_summary.html"
    store.write_text("old page", path)
    with pytest.raises(UnicodeEncodeError):
        store.write_text("half a page \ud800", path)  # fails while writing
    assert path.read_text() == "old page" and [p.name for p in tmp_path.iterdir()] == ["drift_summary.html"]
    store.write_text("new page", path)
    assert path.read_text() == "new page" and len(list(tmp_path.iterdir())) == 1


# ---------------------------------------------------------------------------------------------------
# Realized performance and the verdict


def outcomes(n: int, seed: int, *, noise: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A risk list and the labels of its horizon: scores are the truth plus `noise`."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n)
    deactivated = (rng.random(n) < truth).astype(float)
    upgraded = (rng.random(n) < truth / 5).astype(float)
    active = rng.random(n) < 0.6
    risk_list = pd.DataFrame(
        {
            "partner_id": [f"p{i}" for i in range(n)],
            "segment": rng.choice(["newbie", "workhorse", "star", "sleeper"], n),
            "deactivation_risk": np.where(active, np.clip(truth + rng.normal(0, noise, n), 0, 1), np.nan),
            "upgrade_potential": np.clip(truth / 5 + rng.normal(0, noise / 5, n), 0, 1),
        }
    )
    labels = pd.DataFrame(
        {
            "partner_id": risk_list["partner_id"],
            "as_of": pd.Timestamp("2026-05-01", tz="UTC"),
            "deactivated": np.where(active, deactivated, np.nan),
            "upgraded": upgraded,
            "revenue_next_horizon": rng.gamma(1, 100, n),
        }
    )
    return risk_list, labels


def test_realized_metrics_match_sklearn_and_sit_next_to_the_backtest() -> None:
    risk_list, labels = outcomes(3_000, 1, noise=0.2)
    expected = backtest_table(realized_predictions(*outcomes(3_000, 2, noise=0.2)), ["model"])
    table = compare_with_backtest(realized_predictions(risk_list, labels), expected)
    overall = table[(table["target"] == "deactivation_risk") & (table["segment"] == "all")].iloc[0]
    known = labels["deactivated"].notna()
    assert overall["rows"] == known.sum()
    assert overall["roc_auc"] == pytest.approx(roc_auc_score(labels.loc[known, "deactivated"], risk_list.loc[known, "deactivation_risk"]))
    assert abs(overall["roc_auc"] - overall["expected_roc_auc"]) < 0.03
    assert set(table["segment"]) == {"all", "newbie", "workhorse", "star", "sleeper"}
    assert table["segment"].iloc[0] == "all"


def test_performance_retrains_when_roc_auc_falls_below_the_tolerance() -> None:
    backtest = backtest_table(realized_predictions(*outcomes(3_000, 2, noise=0.05)), ["model"])
    risk_list, labels = outcomes(3_000, 1, noise=0.6)
    result = evaluate(risk_list, labels, backtest, CONFIG.monitoring, scored_at=pd.Timestamp("2026-05-01", tz="UTC"), horizon_days=30)
    assert result.recommendation.action == "retrain" and "deactivation_risk ROC-AUC" in result.recommendation.reason
    good = evaluate(*outcomes(3_000, 3, noise=0.05), backtest, CONFIG.monitoring, scored_at=pd.Timestamp("2026-05-01", tz="UTC"), horizon_days=30)
    assert good.recommendation.action == "keep"
    assert json.loads(json.dumps(good.to_json()))["metrics"][0]["segment"] == "all"


def test_performance_refuses_outcomes_of_one_kind_only() -> None:
    risk_list, labels = outcomes(500, 1, noise=0.1)
    backtest = backtest_table(realized_predictions(risk_list, labels), ["model"])
    with pytest.raises(InputError, match="same outcome"):
        evaluate(
            risk_list,
            labels.assign(deactivated=labels["deactivated"] * 0),
            backtest,
            CONFIG.monitoring,
            scored_at=pd.Timestamp("2026-05-01", tz="UTC"),
            horizon_days=30,
        )


def test_the_verdict_takes_the_strongest_action() -> None:
    assert recommend([], [], "fine") == Recommendation("keep", "fine")
    assert recommend([], ["near"], "fine").action == "watch"
    assert recommend(["broke"], ["near"], "fine") == Recommendation("retrain", "broke")
    both = combine([("drift", Recommendation("watch", "a")), ("performance", Recommendation("retrain", "b"))])
    assert both.action == "retrain" and both.reason == "drift: watch (a); performance: retrain (b)"


def test_a_risk_list_is_judged_at_its_own_scoring_time() -> None:
    from monitoring.store import scored_as_of

    evening = pd.Timestamp("2026-05-01 18:00", tz="UTC")
    risk_list = pd.DataFrame({"partner_id": ["a", "b"], "as_of": [evening, evening]})
    assert scored_as_of(risk_list, pd.Timestamp("2026-05-01", tz="UTC")) == evening
    assert scored_as_of(risk_list, evening) == evening
    with pytest.raises(InputError, match="scored as of 2026-05-01T18:00:00\\+00:00, not 2026-05-01T12:00"):
        scored_as_of(risk_list, pd.Timestamp("2026-05-01 12:00", tz="UTC"))
    with pytest.raises(InputError, match="holds 2 scoring times"):
        scored_as_of(risk_list.assign(as_of=[evening, evening.normalize()]), evening.normalize())


def test_performance_judges_the_model_that_scored_when_the_other_was_unavailable() -> None:
    backtest = backtest_table(realized_predictions(*outcomes(3_000, 2, noise=0.05)), ["model"])
    risk_list, labels = outcomes(3_000, 1, noise=0.05)
    alone = evaluate(
        risk_list.assign(upgrade_potential=np.nan),
        labels,
        backtest,
        CONFIG.monitoring,
        scored_at=pd.Timestamp("2026-05-01", tz="UTC"),
        horizon_days=30,
    )
    assert alone.targets == ["deactivation_risk"] and "upgrade_potential" not in alone.summary_line()
    assert alone.recommendation.action == "keep"
    with pytest.raises(InputError, match="no scores with a known outcome"):
        evaluate(
            risk_list.assign(upgrade_potential=np.nan, deactivation_risk=np.nan),
            labels,
            backtest,
            CONFIG.monitoring,
            scored_at=pd.Timestamp("2026-05-01", tz="UTC"),
            horizon_days=30,
        )
