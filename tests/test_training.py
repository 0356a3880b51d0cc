"""Training: time splits without leakage, calibrated probabilities, monotone recency, clear errors."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import Program, load_program
from partner_churn.config import Config, load_config
from partner_churn.errors import ConfigError, InputError
from synthetic.oracle import oracle_scores
from training.backtest import expected_calibration_error, headline, reliability
from training.datasets import build_dataset, plan_cutoffs
from training.model import Calibrator, TrainedModel, fit_calibrator, rows_for
from training.result import TrainingResult
from training.train import train_and_backtest

NOW = pd.Timestamp("2026-11-01", tz="UTC")


def small_config(*overrides: str) -> Config:
    return load_config(
        env={},
        overrides=[
            "training.lightgbm.n_estimators=120",
            "training.lightgbm.num_threads=1",
            "training.min_positive_labels=20",
            "training.min_upgrade_labels=20",
            *overrides,
        ],
    )


@pytest.fixture(scope="module")
def program(generated_dir: Path) -> Program:
    return load_program(generated_dir, Config().data, NOW)


@pytest.fixture(scope="module")
def result(program: Program, generated_dir: Path) -> TrainingResult:
    config = small_config()
    return train_and_backtest(
        program, config, oracle=partial(oracle_scores, generated_dir / "latent.parquet", horizon_days=config.labels.horizon_days)
    )


def _assert_folds_are_embargoed(plan, horizon: pd.Timedelta, data_end: pd.Timestamp) -> None:
    """Within every fold the splits follow each other, and no label an earlier split learns from (it looks at
    [t, t + H)) reaches the period a later split is judged on, in particular the fold's test window."""
    for fold in plan.folds:
        splits = [fold.train, fold.validation, fold.calibration, fold.test]
        for earlier, later in zip(splits, splits[1:]):
            assert earlier[-1] + horizon <= later[0]
        assert max(fold.train + fold.validation + fold.calibration) + horizon <= fold.origin
        assert fold.test[-1] + horizon <= data_end
    for older, newer in zip(plan.folds, plan.folds[1:]):
        assert older.test[-1] < newer.origin  # each fold is judged before the next one's origin


def test_each_fold_is_the_whole_procedure_laid_back_from_its_origin() -> None:
    config = Config()
    end = pd.Timestamp("2026-06-30 23:00", tz="UTC")
    plan = plan_cutoffs(pd.Timestamp("2025-01-01", tz="UTC"), end, config)
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    assert len(plan.folds) == 4
    assert all([len(f.train), len(f.validation), len(f.calibration), len(f.test)] == [12, 1, 1, 1] for f in plan.folds)
    _assert_folds_are_embargoed(plan, horizon, end)
    origins = [fold.origin for fold in plan.folds]
    assert all(b - a == pd.Timedelta(days=14) for a, b in zip(origins, origins[1:]))
    # The final refit trains on the newest cutoffs: its newest label ends within a day of the data's end.
    assert len(plan.final_train) == 12 and plan.final_train[-1] == origins[-1]
    assert end - pd.Timedelta(days=1) <= plan.final_train[-1] + horizon <= end
    assert all(c == c.normalize() for c in plan.all())


def test_too_short_a_history_is_a_clear_error() -> None:
    with pytest.raises(InputError, match=r"the data spans 200 days.*lower training"):
        plan_cutoffs(pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2025-07-20", tz="UTC"), Config())


def test_horizon_longer_than_the_data_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="the data spans"):
        plan_cutoffs(pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2026-06-30", tz="UTC"), small_config("labels.horizon_days=365"))


def test_a_single_training_cutoff_is_refused() -> None:
    with pytest.raises(ConfigError, match="train_cutoffs"):
        small_config("training.train_cutoffs=1")


def test_training_rows_do_not_depend_on_anything_after_their_horizon(program: Program) -> None:
    """Rebuild the final refit's training rows from events cut at the end of its last label window: identical."""
    config = small_config()
    data_end = program.events["ts"].max()
    plan = plan_cutoffs(program.partners["signup_at"].min(), data_end, config)
    oldest = plan.folds[0]
    full = build_dataset(program.partners, program.events, plan.all(), config, data_end=data_end)
    cut = oldest.train[-1] + pd.Timedelta(days=config.labels.horizon_days)
    early = build_dataset(program.partners, program.events[program.events["ts"] < cut], oldest.train, config, data_end=cut)
    late_columns = ["segment_at_horizon"]  # depends on the program's revenue at t + H, the same in both
    train_full = full[full["as_of"].isin(oldest.train)].drop(columns=late_columns).reset_index(drop=True)
    pd.testing.assert_frame_equal(train_full, early.drop(columns=late_columns).reset_index(drop=True))


def test_no_fold_sees_a_label_that_overlaps_its_test_window(program: Program, result: TrainingResult) -> None:
    """Each fold's model, refitted from events cut at the fold's origin (nothing of its test window exists),
    scores its test rows exactly as in the backtest; and the plan keeps every fold's labels before its origin."""
    from features.schema import SURVEYS, feature_schema, learnable_features
    from training.model import fit_model

    config = small_config()
    data_end = program.events["ts"].max()
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    _assert_folds_are_embargoed(result.plan, horizon, data_end)
    assert program.surveys is not None and len(program.surveys), "setup: the program has survey answers (their features learn too)"
    learnable = learnable_features(feature_schema(config), [*program.events["event_type"].astype(str).unique(), SURVEYS])
    full = build_dataset(program.partners, program.events, result.plan.all(), config, data_end=data_end, surveys=program.surveys)
    for number in (1, len(result.plan.folds)):
        fold = result.plan.folds[number - 1]
        before = program.events[program.events["ts"] < fold.origin]
        answers = program.surveys[program.surveys["ts"] < fold.origin]
        cutoffs = fold.train + fold.validation + fold.calibration
        learned = rows_for("deactivation_risk", build_dataset(program.partners, before, cutoffs, config, data_end=fold.origin, surveys=answers))
        split = {name: learned[learned["as_of"].isin(getattr(fold, name))] for name in ("train", "validation", "calibration")}
        model = fit_model(
            "deactivation_risk",
            split["train"],
            split["validation"],
            split["calibration"],
            learnable,
            config.training.lightgbm,
            calibration_method=config.training.calibration,
            seed=config.training.seed,
        )
        test = rows_for("deactivation_risk", full[full["as_of"].isin(fold.test)])
        backtest = result.predictions[(result.predictions["target"] == "deactivation_risk") & (result.predictions["fold"] == number)]
        assert len(backtest) == len(test) > 100
        np.testing.assert_allclose(model.predict(test), backtest["model"].to_numpy(), rtol=0, atol=1e-12)


def test_the_deployed_model_is_refitted_on_the_newest_labels_with_what_the_folds_chose(result: TrainingResult, program: Program) -> None:
    config = small_config()
    for target, model in result.models.items():
        through = pd.Timestamp(model.trained_through)
        assert program.events["ts"].max() - through <= pd.Timedelta(days=config.labels.horizon_days)
        assert through == max(result.plan.final_train) + pd.Timedelta(days=config.labels.horizon_days)
        chosen = model.validated_by
        assert chosen["folds"] == len(result.plan.folds) == 4
        assert model.best_iteration == chosen["rounds"] == round(float(np.median(chosen["fold_best_iterations"])))
        assert model.booster.current_iteration() == chosen["rounds"]
        oof = result.predictions[result.predictions["target"] == target]
        assert chosen["calibration_rows"] == len(oof) and chosen["calibration_positives"] == int(oof["label"].sum())
        assert model.training_cutoffs == sorted(str(c) for c in result.plan.final_train)


def test_models_return_calibrated_probabilities_not_labels(result: TrainingResult) -> None:
    for target, model in result.models.items():
        rows = result.backtest_rows[target]
        scores = model.predict(rows)
        assert scores.min() >= 0 and scores.max() <= 1
        assert len(np.unique(np.round(scores, 6))) > 20  # probabilities, not 0/1 labels
    table = result.backtest
    model_rows = table[(table["scorer"] == "model") & (table["fold"] == "all") & (table["segment"] == "all")]
    assert (model_rows["ece"] < 0.05).all(), model_rows[["target", "ece"]]


def test_models_beat_their_baselines_and_stay_below_the_oracle(result: TrainingResult) -> None:
    assert result.model_auc["deactivation_risk"] > result.primary_baseline_auc["deactivation_risk"] + 0.03
    assert result.model_auc["upgrade_potential"] > result.primary_baseline_auc["upgrade_potential"]
    table = result.backtest
    oracle = headline(table, "deactivation_risk", "oracle")
    assert result.model_auc["deactivation_risk"] <= oracle + 0.01  # above the oracle would mean a leak


def test_backtest_table_has_every_fold_their_mean_and_spread_for_every_scorer(result: TrainingResult) -> None:
    table = result.backtest
    risk = table[(table["target"] == "deactivation_risk") & (table["segment"] == "all")]
    assert set(risk["fold"]) == {"1", "2", "3", "4", "all", "mean", "spread"}
    assert {"recency_rule", "logistic_rfm", "btyd", "oracle", "model"} <= set(risk["scorer"])
    assert {"newbie", "workhorse"} <= set(table["segment"])
    for scorer, rows in risk.groupby("scorer"):
        folds = rows[rows["fold"].isin(["1", "2", "3", "4"])].sort_values("fold")
        assert list(folds["origin"]) == result.fold_origins
        predictions = result.predictions[result.predictions["target"] == "deactivation_risk"]
        assert list(folds["rows"]) == [int((predictions["fold"] == k).sum()) for k in (1, 2, 3, 4)]
        assert list(folds["positives"]) == [int(predictions.loc[predictions["fold"] == k, "label"].sum()) for k in (1, 2, 3, 4)]
        for metric in ("roc_auc", "pr_auc", "precision_top10", "recall_top10"):
            mean = rows.loc[rows["fold"] == "mean", metric].iloc[0]
            spread = rows.loc[rows["fold"] == "spread", metric].iloc[0]
            assert mean == pytest.approx(folds[metric].mean()), (scorer, metric)
            assert spread == pytest.approx(folds[metric].std(ddof=1)), (scorer, metric)
    assert result.model_auc["deactivation_risk"] == pytest.approx(risk.loc[(risk["scorer"] == "model") & (risk["fold"] == "mean"), "roc_auc"].iloc[0])
    for metric in ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "precision_top10", "recall_top10", "revenue_share_top10"):
        assert table.loc[table["scorer"] == "model", metric].notna().any(), metric


def test_upgrade_potential_is_judged_without_mechanical_tenure_upgrades(result: TrainingResult) -> None:
    from features.segments import crosses_tenure_threshold

    config = small_config()
    assert list(crosses_tenure_threshold(np.array([0.0, 60.0, 89.0, 90.0, 150.0, 179.0, 200.0]), 30, config.segments)) == [
        False,
        True,
        True,
        False,
        True,
        True,
        False,
    ]
    table = result.backtest[(result.backtest["target"] == "upgrade_potential") & (result.backtest["segment"] == "all")]
    pooled = table[(table["fold"] == "all") & (table["scorer"] == "model")].set_index("population")
    predictions = result.predictions[result.predictions["target"] == "upgrade_potential"]
    steady = predictions[~predictions["tenure_crossing"]]
    assert pooled.loc["all", "rows"] == len(predictions) and pooled.loc["no_tenure_crossing", "rows"] == len(steady) < len(predictions)
    # The crossing rows hold a larger share of the upgrades: that is why they are set aside.
    assert predictions.loc[predictions["tenure_crossing"], "label"].mean() > steady["label"].mean()
    mean = table[(table["fold"] == "mean") & (table["scorer"] == "model")].set_index("population")
    assert result.model_auc["upgrade_potential"] == pytest.approx(mean.loc["no_tenure_crossing", "roc_auc"])
    assert result.primary_baseline_auc["upgrade_potential"] == pytest.approx(
        max(headline(result.backtest, "upgrade_potential", s) for s in ("logistic_rfm", "revenue_momentum"))
    )


def test_more_recent_activity_never_raises_risk(result: TrainingResult) -> None:
    model = result.models["deactivation_risk"]
    rows = result.backtest_rows["deactivation_risk"].head(300)
    base = model.predict(rows)
    for column, change in (("days_since_last_activity", -5.0), ("active_days_30", +3)):
        varied = rows.copy()
        varied[column] = (varied[column] + change).clip(lower=0)
        moved = model.predict(varied)
        assert (moved - base <= 1e-12).all(), column  # fresher or busier: risk not higher
        assert (moved < base - 1e-6).any(), column  # and the model does use the feature


def test_save_and_load_give_the_same_predictions(result: TrainingResult, tmp_path: Path) -> None:
    model = result.models["deactivation_risk"]
    model.save(tmp_path / "m")
    loaded = TrainedModel.load(tmp_path / "m")
    rows = result.backtest_rows["deactivation_risk"]
    np.testing.assert_allclose(loaded.predict(rows), model.predict(rows), rtol=0, atol=1e-12)


def test_missing_feature_columns_are_a_clear_error(result: TrainingResult) -> None:
    rows = result.backtest_rows["deactivation_risk"].drop(columns=["tenure_days"])
    with pytest.raises(InputError, match="lacks 1 model features.*tenure_days"):
        result.models["deactivation_risk"].predict(rows)


def test_too_few_positive_labels_is_a_clear_error(program: Program) -> None:
    with pytest.raises(
        InputError,
        match=r"positive 'deactivated' labels in all, and each split needs 100000 of each class.*--set training.min_positive_labels=\d+ would fit",
    ):
        train_and_backtest(program, small_config("training.min_positive_labels=100000"))


def test_calibrator_choice_follows_the_data() -> None:
    rng = np.random.default_rng(0)
    raw = rng.random(4_000)
    steps = (raw > 0.5).astype(float) * 0.8 + 0.1  # a step: isotonic fits, a sigmoid cannot
    label = (rng.random(raw.size) < steps).astype(float)
    assert fit_calibrator(raw, label, "auto", seed=1).method == "isotonic"
    smooth = 1 / (1 + np.exp(-(3 * (raw - 0.5))))
    label = (rng.random(raw.size) < smooth).astype(float)
    chosen = fit_calibrator(raw, label, "auto", seed=1)
    assert chosen.method in {"sigmoid", "isotonic"}
    assert abs(chosen(np.array([0.5]))[0] - 0.5) < 0.08
    assert Calibrator("identity")(np.array([0.3]))[0] == 0.3


def test_risk_rows_are_active_partners_with_an_observed_horizon(result: TrainingResult) -> None:
    rows = result.backtest_rows["deactivation_risk"]
    assert rows["active"].all() and rows["deactivated"].notna().all()
    assert rows_for("upgrade_potential", rows).shape[0] == rows["upgraded"].notna().sum()


def test_the_fast_matrix_scores_exactly_as_lightgbm_reads_a_dataframe(result: TrainingResult) -> None:
    """The service's path (a float array, categoricals as positions) against LightGBM's own pandas path,
    on backtest rows with an unseen category, a missing category and missing numbers mixed in."""
    from training.model import feature_matrix

    for model in result.models.values():
        rows = result.backtest_rows[model.target].head(300).copy()
        category = next(iter(model.categories))
        rows[category] = rows[category].astype(object)
        rows.iloc[0, rows.columns.get_loc(category)] = "never-seen"
        rows.iloc[1, rows.columns.get_loc(category)] = None
        rows.iloc[2, rows.columns.get_loc("days_since_last_sale")] = np.nan
        expected = model.booster.predict(feature_matrix(rows, model.features, model.categories), num_iteration=model.best_iteration)
        as_columns = {name: rows[name].tolist() for name in model.features}
        assert np.array_equal(model.raw_probability(rows), expected)
        assert np.array_equal(model.raw_probability(as_columns), expected)
        assert np.array_equal(
            model.matrix(rows)[:3, model.features.index(category)],
            [np.nan, np.nan, model.matrix(rows)[2, model.features.index(category)]],
            equal_nan=True,
        )


def _weekly_labels(grid: list[pd.Timestamp], positives: int, negatives: int) -> pd.DataFrame:
    return pd.DataFrame({"as_of": grid, "positives": positives, "negatives": negatives})


def test_a_short_history_gets_a_plan_fitted_to_it_without_overlapping_labels() -> None:
    from training.datasets import cutoff_grid, fit_plan

    config = small_config()
    start, end = pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2025-12-31 23:00", tz="UTC")
    with pytest.raises(InputError, match="need about 412 days"):
        plan_cutoffs(start, end, config)
    grid = cutoff_grid(start, end, 7, config)
    plan = fit_plan(grid, _weekly_labels(grid, 8, 20), config, label="deactivated", reason="a short history")
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    _assert_folds_are_embargoed(plan, horizon, end)
    assert len(plan.folds) >= 2
    for fold in plan.folds:
        splits = [fold.train, fold.validation, fold.calibration, fold.test]
        for earlier, later in zip(splits, splits[1:]):
            assert later[0] - earlier[-1] < horizon + pd.Timedelta(days=7)  # the embargo is the smallest that covers H
        for split in splits[1:]:
            assert 8 * len(split) >= 20  # each split holds training.min_positive_labels (20) positives
        assert len(fold.train) >= 2
    assert plan.final_train[-1] == grid[-1]
    assert "fitted to the data (a short history): cutoffs every 7 days" in plan.describe()


def test_too_few_labels_for_any_plan_names_the_setting_that_would_work() -> None:
    from training.datasets import cutoff_grid, fit_plan

    config = small_config()
    start, end = pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2025-12-31 23:00", tz="UTC")
    grid = cutoff_grid(start, end, 7, config)
    with pytest.raises(InputError, match=r"--set training.min_positive_labels=(\d+) would fit") as refused:
        fit_plan(grid, _weekly_labels(grid, 1, 20), config, label="deactivated", reason="few partners")
    workable = int(refused.value.args[0].split("min_positive_labels=")[1].split()[0])
    relaxed = small_config(f"training.min_positive_labels={workable}")
    assert fit_plan(grid, _weekly_labels(grid, 1, 20), relaxed, label="deactivated", reason="few partners").folds
    stricter = small_config(f"training.min_positive_labels={workable + 1}")
    with pytest.raises(InputError):
        fit_plan(grid, _weekly_labels(grid, 1, 20), stricter, label="deactivated", reason="few partners")
    tiny = cutoff_grid(start, pd.Timestamp("2025-06-01", tz="UTC"), 7, config)
    short_end = pd.Timestamp("2025-06-01", tz="UTC")
    with pytest.raises(
        InputError,
        match=r"at least about 202 days of history are needed with a 30-day horizon, the data has 151; --set labels.horizon_days=(\d+) would fit",
    ) as short:
        fit_plan(tiny, _weekly_labels(tiny, 50, 50), config, label="deactivated", reason="a short history", span=(start, short_end))
    horizon = int(short.value.args[0].split("horizon_days=")[1].split()[0])
    shorter = small_config(f"labels.horizon_days={horizon}")
    grid_shorter = cutoff_grid(start, short_end, 7, shorter)
    assert fit_plan(grid_shorter, _weekly_labels(grid_shorter, 50, 50), shorter, label="deactivated", reason="a short history").folds
    longer = small_config(f"labels.horizon_days={horizon + 1}")  # the advice is the longest horizon that fits
    grid_longer = cutoff_grid(start, short_end, 7, longer)
    with pytest.raises(InputError):
        fit_plan(grid_longer, _weekly_labels(grid_longer, 50, 50), longer, label="deactivated", reason="a short history", span=(start, short_end))


def test_folds_give_way_before_a_plan_is_refused() -> None:
    """24 weekly cutoffs of 20 positives each: 4 folds would leave no room, fewer do."""
    from training.datasets import fit_plan

    config = load_config(env={})
    grid = list(pd.date_range("2025-03-02", periods=24, freq="7D", tz="UTC"))
    plan = fit_plan(grid, _weekly_labels(grid, 20, 40), config, label="deactivated", reason="few partners")
    assert 1 <= len(plan.folds) < 4 and all(len(fold.train) >= 2 for fold in plan.folds)
    assert all(len(fold.test) >= 3 for fold in plan.folds)  # 3 weekly cutoffs hold the 50 positives a split needs


def test_few_calibration_labels_get_sigmoid_never_a_certain_zero_or_one() -> None:
    rng = np.random.default_rng(0)
    raw = rng.random(300)
    label = (rng.random(300) < raw * 0.3).astype(float)  # about 45 positives: too few for isotonic
    calibrator = fit_calibrator(raw, label, "isotonic", seed=0)
    assert calibrator.method == "sigmoid"
    many = rng.random(20_000)
    iso = fit_calibrator(many, (rng.random(20_000) < many).astype(float), "isotonic", seed=0)
    assert iso.method == "isotonic"
    out = iso(np.array([0.0, 1.0]))
    assert 0 < out[0] and out[1] < 1


def test_the_backtest_scores_the_bg_nbd_baseline(result: TrainingResult) -> None:
    table = result.backtest
    btyd = table[(table["target"] == "deactivation_risk") & (table["scorer"] == "btyd") & (table["fold"] == "mean") & (table["segment"] == "all")]
    assert len(btyd) == 1 and 0.5 < float(btyd["roc_auc"].iloc[0]) < float(result.model_auc["deactivation_risk"])
    assert np.isfinite(btyd["brier"].iloc[0])


def test_the_calibration_bins_line_up_and_the_ece_weighs_them_by_rows() -> None:
    """Scores on a bin edge (isotonic plateaus such as 0.3 are common) fall in the lower bin for the counts as
    for scikit-learn's means; the ECE is the row-weighted gap a brute-force loop over (lo, hi] bins gives."""
    label = np.array([0, 1, 0, 1, 1, 0, 0, 1])
    score = np.array([0.0, 0.3, 0.3, 0.35, 0.95, 1.0, 0.05, 0.3])
    mean_score, observed, rows = reliability(label, score)
    assert rows.tolist() == [2, 3, 1, 2]  # [0, 0.1], (0.2, 0.3], (0.3, 0.4], (0.9, 1.0]
    assert np.allclose(mean_score, [0.025, 0.3, 0.35, 0.975]) and np.allclose(observed, [0.0, 2 / 3, 1.0, 0.5])
    edges = np.linspace(0.0, 1.0, 11)
    brute = sum(
        inside.mean() * abs(label[inside].mean() - score[inside].mean())
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        if (inside := ((score > lo) | (lo == 0.0)) & (score <= hi)).any()
    )
    assert expected_calibration_error(label, score) == pytest.approx(brute)
