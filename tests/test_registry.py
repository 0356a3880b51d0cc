"""MLflow tracking, registry and promotion gate on an embedded SQLite store in a temporary folder.

Tiny real models (LightGBM, 20 trees) on a synthetic feature frame with signal; one store per module,
and every test registers under its own model names, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.schema import FeatureSpec
from partner_churn.config import Config, LightGBMConfig, load_config, render_yaml
from partner_churn.errors import InputError
from tests.support import mlflow_uris_restored
from training import plots, registry
from training.backtest import backtest_table, gate_baseline, headline
from training.datasets import CutoffPlan, Fold
from training.model import LABEL_OF, TrainedModel, fit_model
from training.result import TrainingResult

SCHEMA = [
    FeatureSpec("days_since_last_activity", "float", "recency", "Days since the last qualifying event."),
    FeatureSpec("active_days_30", "int", "window", "Active days among the last 30."),
    FeatureSpec("revenue_30d", "float", "window", "Sale amounts in the last 30 days."),
    FeatureSpec("click_count_30d", "int", "window", "Clicks in the last 30 days."),
    FeatureSpec("partner_type", "category", "attribute", "Declared partner attribute partner_type."),
]
FEATURES = [spec.name for spec in SCHEMA]
PARAMS = LightGBMConfig(n_estimators=20, early_stopping_rounds=5, num_threads=1)
_names = itertools.count(1)


def synthetic_frame(seed: int = 1, partners: int = 400, cutoffs: int = 8) -> pd.DataFrame:
    """Feature rows at `cutoffs` dates with both labels; risk rises with silence, falls with activity."""
    rng = np.random.default_rng(seed)
    parts = []
    for cutoff in pd.date_range("2025-03-01", periods=cutoffs, freq="28D", tz="UTC"):
        days = rng.exponential(8, partners)
        days[rng.random(partners) < 0.05] = np.nan
        active = rng.integers(0, 31, partners)
        clicks = rng.poisson(4, partners)
        revenue = rng.gamma(1.0, 100, partners) * (rng.random(partners) < 0.6)
        partner_type = rng.choice(["blogger", "agency", "cashback"], partners).astype(object)
        partner_type[rng.random(partners) < 0.1] = None
        silent = np.nan_to_num(days, nan=40)
        risk_logit = -0.5 + 0.08 * silent - 0.12 * active + 1.2 * (partner_type == "cashback") - 0.15 * clicks
        upgrade_logit = -2.0 + 0.006 * revenue + 0.2 * clicks - 0.05 * silent
        parts.append(
            pd.DataFrame(
                {
                    "as_of": cutoff,
                    "partner_id": [f"p{i:04d}" for i in range(partners)],
                    "segment": rng.choice(["workhorse", "newbie"], partners),
                    "days_since_last_activity": days,
                    "active_days_30": active,
                    "revenue_30d": revenue,
                    "click_count_30d": clicks,
                    "partner_type": partner_type,
                    "active": True,
                    "deactivated": (rng.random(partners) < 1 / (1 + np.exp(-risk_logit))).astype(float),
                    "upgraded": (rng.random(partners) < 1 / (1 + np.exp(-upgrade_logit))).astype(float),
                    "revenue_next_horizon": revenue * rng.uniform(0.5, 1.5, partners),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def build_result(config: Config, frame: pd.DataFrame, targets: dict[str, float], *, data: str = "") -> TrainingResult:
    """Fit a model per target (labels of a share `targets[target]` of training rows shuffled) and backtest it
    as two folds judged at the last two cutoffs (one fitted model stands for the procedure's refits here).

    Splits by cutoff: 4 train, 1 validation, 1 calibration, then the two folds' test cutoffs. The gate
    baselines: the recency rule (days since last activity) for risk, its negation as 'revenue momentum' for
    potential. `data` names the data in the fingerprint (default: the frame's size)."""
    cutoffs = sorted(frame["as_of"].unique())
    train, validation = frame[frame["as_of"].isin(cutoffs[:4])], frame[frame["as_of"] == cutoffs[4]]
    calibration, backtest = frame[frame["as_of"] == cutoffs[5]], frame[frame["as_of"].isin(cutoffs[6:])]
    rng = np.random.default_rng(5)
    models, backtest_rows, prediction_parts = {}, {}, []
    for target, shuffled_share in targets.items():
        label_name = LABEL_OF[target]
        noisy = train.copy()
        chosen = rng.random(len(noisy)) < shuffled_share
        noisy.loc[chosen, label_name] = rng.permutation(noisy.loc[chosen, label_name].to_numpy())
        model = fit_model(target, noisy, validation, calibration, SCHEMA, PARAMS, calibration_method="auto", seed=1)
        model.trained_through = (pd.Timestamp(noisy["as_of"].max()) + pd.Timedelta(days=30)).isoformat()
        models[target] = model
        backtest_rows[target] = backtest.reset_index(drop=True)
        recency = backtest["days_since_last_activity"].fillna(999).to_numpy(float)
        baseline = "recency_rule" if target == "deactivation_risk" else "revenue_momentum"
        scores = {"model": model.predict(backtest), baseline: recency if target == "deactivation_risk" else -recency}
        prediction_parts.append(
            backtest[["as_of", "partner_id", "segment", "revenue_next_horizon"]].assign(
                target=target,
                label=backtest[label_name].to_numpy(float),
                fold=(backtest["as_of"] == cutoffs[7]).astype(int).to_numpy() + 1,
                origin=backtest["as_of"].dt.strftime("%Y-%m-%d").to_numpy(),
                tenure_crossing=False,
                **scores,
            )
        )
    predictions = pd.concat(prediction_parts, ignore_index=True)
    table = backtest_table(predictions, ["model", "recency_rule", "revenue_momentum"])
    as_list = [pd.Timestamp(c) for c in cutoffs]
    folds = [Fold(train=as_list[:4], validation=[as_list[4]], calibration=[as_list[5]], test=[as_list[k]]) for k in (6, 7)]
    return TrainingResult(
        config=config,
        fingerprint={"rows": len(frame), "partners": int(frame["partner_id"].nunique()), "sha256": data or f"rows-{len(frame)}"},
        schema=SCHEMA,
        models=models,
        backtest=table,
        predictions=predictions,
        backtest_rows=backtest_rows,
        reference_sample=train[FEATURES].head(200).reset_index(drop=True),
        primary_baseline_auc={t: gate_baseline(table, t)[1] for t in targets},
        model_auc={t: headline(table, t, "model") for t in targets},
        plan=CutoffPlan(folds=folds, final_train=as_list[:4]),
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One SQLite store for the module; MLflow's global URIs and the env vars it sets are restored after."""
    with mlflow_uris_restored():
        yield tmp_path_factory.mktemp("mlflow")


def make_config(store: Path, *extra: str) -> Config:
    """A config on the module's store with model names of its own."""
    n = next(_names)
    return load_config(
        env={},
        overrides=[
            f"paths.mlflow_tracking_uri=sqlite:///{store}/mlflow.db",
            f"paths.mlflow_artifacts_dir={store}/mlartifacts",
            f"training.risk_model_name=risk-{n}",
            f"training.potential_model_name=potential-{n}",
            f"training.pair_model_name=pair-{n}",
            *extra,
        ],
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_frame()


@pytest.fixture(scope="module")
def good(store: Path, frame: pd.DataFrame) -> TrainingResult:
    return build_result(make_config(store), frame, {"deactivation_risk": 0.0, "upgrade_potential": 0.0})


@pytest.fixture(scope="module")
def worse(store: Path, frame: pd.DataFrame) -> TrainingResult:
    """70% of training labels shuffled: still above the recency rule by the margin, well below the good model.
    Another procedure (its own seed) on the same data as `good`."""
    return build_result(make_config(store, "training.seed=7"), frame, {"deactivation_risk": 0.7})


def test_first_model_becomes_champion_and_pyfunc_serves_probabilities(store: Path, good: TrainingResult) -> None:
    config = make_config(store)
    run_id, versions = registry.log_training_run(good, config=config, run_name="first")
    assert versions == {"deactivation_risk": "1", "upgrade_potential": "1"}

    decisions = registry.apply_gate(good, versions, config=config)
    assert [d.promoted for d in decisions] == [True, True]
    assert all(d.champion_version is None and "no champion" in d.reason for d in decisions)

    rows = good.backtest_rows["deactivation_risk"]
    pyfunc = mlflow.pyfunc.load_model(f"models:/{config.training.risk_model_name}@champion")
    served = pyfunc.predict(rows[FEATURES])
    assert list(served.columns) == ["deactivation_risk"]
    probabilities = served["deactivation_risk"].to_numpy()
    assert np.allclose(probabilities, good.models["deactivation_risk"].predict(rows), atol=1e-9)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert not np.isin(probabilities, [0.0, 1.0]).all(), "served labels, not probabilities"
    assert len(np.unique(probabilities)) > 5

    loaded, version = registry.load_model(config, config.training.potential_model_name)
    assert version == "1"
    assert np.allclose(loaded.predict(rows), good.models["upgrade_potential"].predict(rows), atol=1e-9)

    client = MlflowClient(tracking_uri=config.paths.mlflow_tracking_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["training.lightgbm.n_estimators"] == "300"
    assert run.data.params["labels.horizon_days"] == "30"
    assert run.data.metrics["deactivation_risk.model.roc_auc"] == pytest.approx(good.model_auc["deactivation_risk"])
    assert run.data.metrics["upgrade_potential.revenue_momentum.roc_auc"] == pytest.approx(good.primary_baseline_auc["upgrade_potential"])
    folds = client.get_metric_history(run_id, "deactivation_risk.model.roc_auc.fold")
    per_fold = good.backtest[
        (good.backtest["target"] == "deactivation_risk") & (good.backtest["scorer"] == "model") & good.backtest["fold"].isin(["1", "2"])
    ]
    assert {m.step: m.value for m in folds} == pytest.approx(dict(zip(per_fold["fold"].astype(int), per_fold["roc_auc"])))
    assert "deactivation_risk.model.roc_auc_spread" in run.data.metrics
    assert "deactivation_risk.recency_rule.brier" not in run.data.metrics  # NaN metrics are left out
    assert run.data.tags["gate.deactivation_risk.decision"] == "champion"
    artifacts = {a.path for a in client.list_artifacts(run_id)} | {a.path for a in client.list_artifacts(run_id, "plots/deactivation_risk")}
    for expected in ("config.yaml", "fingerprint.json", "backtest.csv", "feature_schema.json", "reference_sample.parquet"):
        assert expected in artifacts
    assert {
        "plots/deactivation_risk/calibration.png",
        "plots/deactivation_risk/feature_importance.png",
        "plots/deactivation_risk/lift.png",
    } <= artifacts
    schema = json.loads(Path(client.download_artifacts(run_id, "feature_schema.json", str(store / f"dl-{run_id}"))).read_text())
    assert [s["name"] for s in schema] == FEATURES
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(store / "mlartifacts")

    tags = client.get_model_version(config.training.risk_model_name, "1").tags
    assert tags["target"] == "deactivation_risk"
    assert tags["run_id"] == run_id
    assert float(tags["backtest_roc_auc"]) == pytest.approx(good.model_auc["deactivation_risk"], abs=1e-6)
    assert float(tags["baseline_roc_auc"]) == pytest.approx(good.primary_baseline_auc["deactivation_risk"], abs=1e-6)
    assert tags["feature_count"] == str(len(FEATURES))
    assert json.loads(tags["fold_roc_auc"]) == pytest.approx(dict(zip(per_fold["origin"], per_fold["roc_auc"])))
    assert tags["procedure"] == registry.procedure_id(good.config) and tags["data_sha256"] == good.fingerprint["sha256"]
    assert tags["trained_at"] and tags["gate_decision"] == "champion"


def test_worse_model_stays_challenger_and_champion_is_unchanged(store: Path, good: TrainingResult, worse: TrainingResult) -> None:
    config = make_config(store)
    gain = config.training.promotion_min_gain_over_recency
    assert worse.model_auc["deactivation_risk"] >= worse.primary_baseline_auc["deactivation_risk"] + gain, "setup"
    assert worse.model_auc["deactivation_risk"] < good.model_auc["deactivation_risk"] - 0.03, "setup"
    _, first = registry.log_training_run(good, config=config)
    registry.apply_gate(good, first, config=config)

    _, second = registry.log_training_run(worse, config=config)
    [decision] = registry.apply_gate(worse, second, config=config)

    name = config.training.risk_model_name
    assert not decision.promoted
    assert decision.champion_version == "1"
    assert decision.champion_auc == pytest.approx(good.model_auc["deactivation_risk"], abs=1e-9)
    assert decision.champion_basis == "its own folds on this same data"
    assert "is below the champion v1's procedure's" in decision.reason and "on the same folds" in decision.reason
    client = MlflowClient(tracking_uri=config.paths.mlflow_tracking_uri)
    assert client.get_model_version_by_alias(name, "champion").version in (1, "1")
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "2"
    assert client.get_model_version(name, "2").tags["gate_reason"] == decision.reason
    assert registry.load_model(config, name)[1] == "1"


def test_model_that_does_not_beat_the_recency_rule_by_the_margin_stays_challenger(store: Path, good: TrainingResult) -> None:
    config = make_config(store, "training.promotion_min_gain_over_recency=0.3")
    assert all(good.model_auc[t] - good.primary_baseline_auc[t] < 0.3 for t in good.models), "setup"
    _, versions = registry.log_training_run(good, config=config)
    decisions = registry.apply_gate(good, versions, config=config)

    assert [d.promoted for d in decisions] == [False, False]
    risk = decisions[0]
    assert risk.champion_version is None
    gain = risk.new_auc - risk.baseline_auc
    spread = headline(good.backtest, "deactivation_risk", "model", fold="spread")
    assert risk.reason == (
        f"the folds' mean ROC-AUC {risk.new_auc:.3f} ± {spread:.3f} over 2 folds is only {gain:.3f} above the recency rule's "
        f"{risk.baseline_auc:.3f}; the gate needs +0.300"
    )
    with pytest.raises(
        InputError,
        match=r"registered model 'risk-\d+' has no champion: v1 stays challenger .*partner-churn promote risk-\d+ 1 --reason .*--model-version risk=1",
    ):
        registry.load_model(config, config.training.risk_model_name)
    assert registry.load_model(config, config.training.risk_model_name, "challenger")[1] == "1"


def test_promote_overrides_the_gate_and_records_who_and_why(store: Path, good: TrainingResult) -> None:
    config = make_config(store, "training.promotion_min_gain_over_recency=0.3")
    name = config.training.risk_model_name
    _, versions = registry.log_training_run(good, config=config)
    assert not any(d.promoted for d in registry.apply_gate(good, versions, config=config))

    registry.promote(config, name, "1", reason="recency rule fails on the new program; accepted by hand")

    client = MlflowClient(tracking_uri=config.paths.mlflow_tracking_uri)
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    tags = client.get_model_version(name, "1").tags
    assert tags["override_reason"] == "recency rule fails on the new program; accepted by hand"
    assert tags["promoted_by_override"] and tags["override_at"]
    assert "accepted by hand" in client.get_registered_model(name).tags["last_override"]
    assert registry.load_model(config, name)[1] == "1"

    with pytest.raises(InputError, match=r"registered model 'risk-\d+' has no version 7 \(versions: 1\)"):
        registry.promote(config, name, "7", reason="typo")
    with pytest.raises(InputError, match=r"no registered model 'nope'"):
        registry.promote(config, "nope", "1", reason="typo")
    with pytest.raises(InputError, match="needs a reason"):
        registry.promote(config, name, "1", reason=" ")


def test_list_models_shows_versions_and_aliases(store: Path, good: TrainingResult, worse: TrainingResult) -> None:
    config = make_config(store)
    assert registry.list_models(config).empty
    registry.apply_gate(good, registry.log_training_run(good, config=config)[1], config=config)
    registry.apply_gate(worse, registry.log_training_run(worse, config=config)[1], config=config)

    listed = registry.list_models(config)
    assert list(listed.columns) == ["name", "version", "aliases", "target", "backtest_roc_auc", "trained_through", "created", "run_id"]
    risk = listed[listed["name"] == config.training.risk_model_name].set_index("version")
    assert risk.loc["2", "trained_through"] == worse.models["deactivation_risk"].trained_through[:10] != ""
    assert risk.loc["1", "aliases"] == "champion" and risk.loc["2", "aliases"] == "challenger"
    assert risk.loc["2", "backtest_roc_auc"] == pytest.approx(worse.model_auc["deactivation_risk"], abs=1e-6)
    assert (risk["target"] == "deactivation_risk").all()
    potential = listed[listed["name"] == config.training.potential_model_name]
    assert potential[["version", "aliases"]].values.tolist() == [["1", "champion"]]


def test_load_model_without_champion_says_what_to_do(store: Path) -> None:
    config = make_config(store)
    with pytest.raises(InputError, match=r"no registered model 'risk-\d+': partner-churn train registers it"):
        registry.load_model(config, config.training.risk_model_name)


def test_unreachable_tracking_server_fails_fast() -> None:
    config = load_config(env={}, overrides=["paths.mlflow_tracking_uri=http://127.0.0.1:9"])
    started = time.monotonic()
    with pytest.raises(InputError, match=r"MLflow tracking URI http://127\.0\.0\.1:9: unreachable \(.+\); set MLFLOW_TRACKING_URI"):
        registry.configure_tracking(config)
    assert time.monotonic() - started < 5


def test_failure_while_logging_leaves_the_champion_alone(
    store: Path, good: TrainingResult, worse: TrainingResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(store)
    name = config.training.risk_model_name
    registry.apply_gate(good, registry.log_training_run(good, config=config)[1], config=config)

    def broken_save(self: TrainedModel, folder: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(TrainedModel, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        registry.log_training_run(worse, config=config, run_name="broken")

    client = MlflowClient(tracking_uri=config.paths.mlflow_tracking_uri)
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert [str(v.version) for v in client.search_model_versions(f"name = '{name}'")] == ["1"]
    [failed] = client.search_runs([client.get_experiment_by_name(config.training.experiment_name).experiment_id], "attributes.run_name = 'broken'")
    assert failed.info.status == "FAILED"


def test_plots_draw_from_the_documented_prediction_columns(good: TrainingResult) -> None:
    assert plots.score_columns(good.predictions) == ["model", "recency_rule", "revenue_momentum"]  # not fold, origin, tenure_crossing
    for figure in (
        plots.calibration_curve(good.predictions, "deactivation_risk"),
        plots.lift_chart(good.predictions, "upgrade_potential"),
        plots.feature_importance(good.models["deactivation_risk"], top=3),
    ):
        assert figure.axes, "figure has no axes"
    assert len(plots.feature_importance(good.models["deactivation_risk"], top=3).axes[0].patches) <= 3
    empty = plots.calibration_curve(good.predictions.iloc[:0], "deactivation_risk")
    assert "no backtest predictions" in empty.axes[0].texts[0].get_text()


def test_the_gate_judges_procedure_against_procedure_on_the_same_folds(
    store: Path, frame: pd.DataFrame, good: TrainingResult, worse: TrainingResult
) -> None:
    """Champion `worse` (its own settings), then `good` on the same data: compared on the champion's recorded
    folds and promoted. On new data with the champion's settings unchanged the folds are the champion's own;
    with other settings the champion's are re-run on the new folds, and a better re-run keeps the challenger out."""
    config = make_config(store)
    worse_config = config.model_copy(update={"training": config.training.model_copy(update={"seed": 7})})
    champion = build_result(worse_config, frame, {"deactivation_risk": 0.7})
    registry.apply_gate(champion, registry.log_training_run(champion, config=config)[1], config=config)

    better = build_result(config, frame, {"deactivation_risk": 0.0})
    [decision] = registry.apply_gate(better, registry.log_training_run(better, config=config)[1], config=config)
    assert decision.promoted and decision.champion_version == "1"
    assert decision.champion_basis == "its own folds on this same data"
    assert decision.champion_auc == pytest.approx(champion.model_auc["deactivation_risk"])
    assert decision.champion_auc < decision.new_auc

    # New data, same settings as the champion (v2): its procedure is this run's, no re-run needed.
    newer = build_result(config, synthetic_frame(seed=2), {"deactivation_risk": 0.0}, data="new data")
    never = lambda cfg: pytest.fail("re-ran a procedure whose settings are this run's")  # noqa: E731
    [same] = registry.apply_gate(newer, registry.log_training_run(newer, config=config)[1], config=config, rerun=never)
    assert same.promoted and same.champion_auc == pytest.approx(same.new_auc)
    assert same.champion_basis.startswith("the same settings")

    # Other settings on other data: the champion's (v3, default seed) procedure is re-run with its logged settings.
    seen: list[Config] = []

    def rerun_as(shuffled: float):  # noqa: ANN202
        def rerun(champion_config: Config) -> TrainingResult:
            seen.append(champion_config)
            return build_result(champion_config, synthetic_frame(seed=3), {"deactivation_risk": shuffled}, data="third data")

        return rerun

    challenger = build_result(worse_config, synthetic_frame(seed=3), {"deactivation_risk": 0.7}, data="third data")
    [refused] = registry.apply_gate(challenger, registry.log_training_run(challenger, config=config)[1], config=config, rerun=rerun_as(0.0))
    assert not refused.promoted and refused.champion_basis == "its settings re-run on these folds"
    assert seen[-1].training.seed == 42 and seen[-1].training.risk_model_name == config.training.risk_model_name
    assert refused.champion_auc > refused.new_auc and "below the champion v3's procedure's" in refused.reason

    [blocked] = registry.apply_gate(challenger, {"deactivation_risk": refused.version}, config=config)
    assert not blocked.promoted and "could not be judged on the same folds" in blocked.reason and "use promote" in blocked.reason

    def rerun_without_figures(champion_config: Config) -> TrainingResult:
        found = rerun_as(0.0)(champion_config)
        found.backtest = found.backtest.assign(roc_auc=np.where(found.backtest["scorer"] == "model", np.nan, found.backtest["roc_auc"]))
        return found

    [undefined] = registry.apply_gate(challenger, registry.log_training_run(challenger, config=config)[1], config=config, rerun=rerun_without_figures)
    assert not undefined.promoted and undefined.champion_auc is None
    assert "no fold has a defined ROC-AUC for both procedures" in undefined.reason and "use promote" in undefined.reason

    other_label = build_result(
        config.model_copy(update={"labels": config.labels.model_copy(update={"horizon_days": 14})}),
        synthetic_frame(seed=3),
        {"deactivation_risk": 0.0},
        data="third data",
    )
    [different] = registry.apply_gate(other_label, registry.log_training_run(other_label, config=config)[1], config=config, rerun=rerun_as(0.0))
    assert not different.promoted and "differently defined label" in different.reason


def test_procedures_are_compared_on_the_folds_both_can_be_judged_on() -> None:
    """A fold with one class has no ROC-AUC: both sides are averaged over the folds where both are defined,
    never a mean that skips a NaN on one side against one that does not."""
    ours = {"2026-04-19": 0.80, "2026-05-03": float("nan"), "2026-05-17": 0.90}
    theirs = {"2026-04-19": 0.70, "2026-05-03": 0.99, "2026-05-17": float("nan")}
    assert registry.means_on_shared_folds(ours, theirs) == (pytest.approx(0.80), pytest.approx(0.70))
    assert registry.means_on_shared_folds({"a": 0.8}, {"b": 0.7}) == (pytest.approx(0.8), None)


def test_a_champion_logged_before_folds_existed_still_loads_its_settings(store: Path, good: TrainingResult) -> None:
    """Its config.yaml says training.backtest_cutoffs: the gate re-runs it as folds instead of blocking for good."""
    config = make_config(store)
    client = MlflowClient(tracking_uri=config.paths.mlflow_tracking_uri)
    run_id, _ = registry.log_training_run(good, config=config, register=False)
    logged = store / f"old-{run_id}" / "config.yaml"
    logged.parent.mkdir()
    logged.write_text(render_yaml(good.config).replace("backtest_folds: 4", "backtest_cutoffs: 3"))
    assert "backtest_cutoffs: 3" in logged.read_text(), "setup"
    client.log_artifact(run_id, str(logged))  # replaces the run's config.yaml with the old layout
    loaded = registry.procedure_config(client, run_id, config)
    assert loaded.training.backtest_folds == 3 and loaded.training.risk_model_name == config.training.risk_model_name


# --------------------------------------------------------------------------------------------------
# The pair in force: one unit, whatever moment a process dies at


class Killed(BaseException):
    """A kill -9 at a chosen MLflow write: that write and every later one fail, so no cleanup code gets one through."""


MLFLOW_WRITES = (
    "create_registered_model",
    "_create_model_version",
    "update_model_version",
    "set_model_version_tag",
    "set_registered_model_alias",
    "delete_registered_model_alias",
    "set_registered_model_tag",
    "set_tag",
    "log_batch",
    "log_artifact",
    "log_artifacts",
    "set_terminated",
    "create_logged_model",
    "finalize_logged_model",
)


def kill_at(patch: pytest.MonkeyPatch, method: str, nth: int) -> None:
    """From the `nth` call of MlflowClient.`method` on, every MLflow write of this process raises Killed."""
    calls: dict[str, int] = {}
    dead: list[bool] = []
    for name in MLFLOW_WRITES:
        original = getattr(MlflowClient, name)

        def write(self: MlflowClient, *args: object, _name: str = name, _original=original, **kwargs: object) -> object:  # noqa: ANN001
            calls[_name] = calls.get(_name, 0) + 1
            if dead or (_name == method and calls[_name] == nth):
                dead.append(True)
                raise Killed(f"{_name} #{calls[_name]}")
            return _original(self, *args, **kwargs)

        patch.setattr(MlflowClient, name, write)


KILL_POINTS = [
    ("_create_model_version", 1, "after the run was logged, before the first registration"),
    ("_create_model_version", 2, "between the two registrations"),
    ("set_model_version_tag", 1, "as the gate records its first decision"),
    ("set_tag", 4, "between the two gate decisions"),
    ("_create_model_version", 3, "as the pair record is written"),
    ("set_registered_model_alias", 1, "at the pair's alias move (the commit)"),
    ("set_registered_model_alias", 2, "after the commit, while the per-target aliases follow"),
]


def pair_now(config: Config) -> dict[str, str]:
    """The versions scoring would load: each target's champion as `load_model` resolves it."""
    return {t: registry.load_model(config, registry.model_name(config, t))[1] for t in ("deactivation_risk", "upgrade_potential")}


def test_a_run_killed_at_any_step_leaves_one_whole_pair_in_force(store: Path, good: TrainingResult, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(store)
    registry.apply_gate(good, registry.log_training_run(good, config=config)[1], config=config)
    assert pair_now(config) == {"deactivation_risk": "1", "upgrade_potential": "1"}

    for method, nth, moment in KILL_POINTS:
        before = pair_now(config)
        with monkeypatch.context() as patch:
            kill_at(patch, method, nth)
            with pytest.raises(Killed):
                _, versions = registry.log_training_run(good, config=config)
                registry.apply_gate(good, versions, config=config)  # same procedure: both would be promoted
        mlflow.end_run()  # the killed process's run is left RUNNING, as after a real kill
        client = MlflowClient(tracking_uri=config.paths.mlflow_tracking_uri)
        newest = {
            t: str(max(int(v.version) for v in client.search_model_versions(f"name = '{registry.model_name(config, t)}'")))
            for t in ("deactivation_risk", "upgrade_potential")
        }
        after = pair_now(config)
        committed = (method, nth) == ("set_registered_model_alias", 2)
        assert after == (newest if committed else before), moment
        assert registry.champion_pair(config).versions == after, moment
        listed = registry.list_models(config)
        assert sorted(listed.loc[listed["aliases"].str.contains("champion"), "version"]) == sorted(after.values()), moment
    assert pair_now(config) != {"deactivation_risk": "1", "upgrade_potential": "1"}  # the run killed after its commit is in force


def test_promote_and_rollback_move_the_pair_as_one_unit(store: Path, good: TrainingResult) -> None:
    config = make_config(store, "training.promotion_min_gain_over_recency=0.3")
    risk, potential = config.training.risk_model_name, config.training.potential_model_name
    for _ in range(2):  # the gate refuses both runs: versions 1 and 2 of each model stay challengers
        registry.apply_gate(good, registry.log_training_run(good, config=config)[1], config=config)
    assert registry.champion_pair(config).versions == {}

    first = registry.promote(config, risk, "1", reason="accepted by hand")
    assert first.versions == {"deactivation_risk": "1"} and first.made_by == "promote" and first.previous == ""
    second = registry.promote(config, potential, "2", reason="potential too")
    assert second.versions == {"deactivation_risk": "1", "upgrade_potential": "2"} and second.previous == first.number
    third = registry.promote(config, risk, "2", reason="the newer risk model")
    assert pair_now(config) == {"deactivation_risk": "2", "upgrade_potential": "2"}

    back = registry.rollback(config, reason="v2 misbehaves in production")
    assert back.versions == second.versions and back.made_by == "rollback" and back.previous == third.number
    assert "back to pair" in back.reason and "v2 misbehaves" in back.reason
    assert pair_now(config) == {"deactivation_risk": "1", "upgrade_potential": "2"}
    assert registry.rollback(config, reason="to the start", to=first.number).versions == {"deactivation_risk": "1"}
    with pytest.raises(InputError, match=r"no registered model 'potential-\d+' has alias 'champion'|has no champion"):
        registry.load_model(config, potential)

    pairs = registry.list_pairs(config)
    assert pairs["pair"].tolist() == [str(n) for n in range(5, 0, -1)]
    assert pairs["in_force"].tolist() == ["yes", "", "", "", ""]
    assert pairs["made_by"].tolist() == ["rollback", "rollback", "promote", "promote", "promote"]
    with pytest.raises(InputError, match=r"no pair record 9 \(pairs: 1, 2, 3, 4, 5"):
        registry.rollback(config, reason="typo", to="9")
    with pytest.raises(InputError, match="needs a reason"):
        registry.rollback(config, reason=" ")


def test_a_store_from_before_pair_records_is_read_from_its_aliases_until_the_first_decision(store: Path, good: TrainingResult) -> None:
    config = make_config(store, "training.promotion_min_gain_over_recency=0.3")
    registry.apply_gate(good, registry.log_training_run(good, config=config)[1], config=config)  # refused: no pair record
    client = MlflowClient(tracking_uri=config.paths.mlflow_tracking_uri)
    for target in ("deactivation_risk", "upgrade_potential"):  # what round 1 left: per-target champion aliases
        client.set_registered_model_alias(registry.model_name(config, target), "champion", "1")
    assert registry.champion_pair(config).number is None
    assert pair_now(config) == {"deactivation_risk": "1", "upgrade_potential": "1"}

    pair = registry.promote(config, config.training.risk_model_name, "1", reason="first pair record")
    assert pair.number == "1" and pair.versions == {"deactivation_risk": "1", "upgrade_potential": "1"}


def test_a_pair_record_of_other_models_is_refused_not_used(store: Path, good: TrainingResult) -> None:
    config = make_config(store)
    registry.apply_gate(good, registry.log_training_run(good, config=config)[1], config=config)
    other = make_config(store, f"training.pair_model_name={config.training.pair_model_name}")
    with pytest.raises(
        InputError, match=r"the pair record 'pair-\d+' pairs risk-\d+ and potential-\d+, this config's models are .*training.pair_model_name"
    ):
        registry.champion_pair(other)


def test_decisions_on_one_store_wait_for_each_other(store: Path, good: TrainingResult, monkeypatch: pytest.MonkeyPatch) -> None:
    from training import champions

    config = make_config(store)
    _, versions = registry.log_training_run(good, config=config)
    monkeypatch.setattr(champions, "DECISION_WAIT_SECONDS", 0.5)
    with champions.decision_lock(config):  # another train or promote deciding on this store
        started = time.monotonic()
        with pytest.raises(
            InputError,
            match=r"another promotion decision on this store is running \(process \d+, lock .*mlflow\.db\.decisions\.lock\) \(waited 0 s\)",
        ):
            registry.apply_gate(good, versions, config=config)
        assert 0.5 <= time.monotonic() - started < 5
    assert registry.champion_pair(config).versions == {}  # nothing was decided while it waited
    registry.apply_gate(good, versions, config=config)
    assert pair_now(config) == {"deactivation_risk": "1", "upgrade_potential": "1"}


def test_a_copied_store_uses_its_own_artifact_folder_and_leaves_the_original_untouched(tmp_path: Path, good: TrainingResult) -> None:
    import shutil

    original = tmp_path / "work"
    config = make_config(original)
    registry.apply_gate(good, registry.log_training_run(good, config=config)[1], config=config)

    def at(folder: Path) -> Config:
        return config.model_copy(
            update={
                "paths": config.paths.model_copy(
                    update={"mlflow_tracking_uri": f"sqlite:///{folder}/mlflow.db", "mlflow_artifacts_dir": folder / "mlartifacts"}
                )
            }
        )

    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    before = {p.relative_to(original): p.read_bytes() for p in original.rglob("*") if p.is_file()}
    copied = at(copy)
    model, version = registry.load_model(copied, config.training.risk_model_name)
    assert version == "1" and model.target == "deactivation_risk"
    run_id, versions = registry.log_training_run(good, config=copied)
    registry.apply_gate(good, versions, config=copied)
    assert pair_now(copied) == {"deactivation_risk": "2", "upgrade_potential": "2"}
    client = MlflowClient(tracking_uri=copied.paths.mlflow_tracking_uri)
    for run in client.search_runs([client.get_experiment_by_name(config.training.experiment_name).experiment_id]):
        assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(copy / "mlartifacts"), run.info.artifact_uri
    assert {p.relative_to(original): p.read_bytes() for p in original.rglob("*") if p.is_file()} == before

    shutil.rmtree(original)  # the copy no longer needs the original at all
    assert registry.load_model(copied, config.training.potential_model_name)[1] == "2"
    assert registry.load_model(copied, config.training.potential_model_name, "1")[1] == "1"

    bare = tmp_path / "bare"  # the database alone, without its artifact folder
    bare.mkdir()
    shutil.copy(copy / "mlflow.db", bare / "mlflow.db")
    with pytest.raises(
        InputError, match=r"keeps its artifacts in .*copy/mlartifacts, but paths.mlflow_artifacts_dir is .*bare/mlartifacts \(empty\)"
    ):
        registry.load_model(at(bare), config.training.risk_model_name)
