"""Measured actions in the scoring: registered in MLflow by the effects run, loaded as the champion, proposed in
the risk list by expected saved revenue, the rules everywhere else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import Program, load_program
from partner_churn.config import Config, load_config
from partner_churn.domain import LAST_ACTIVITY
from retention.actions import ActionTable, default_actions_path
from retention.measured import MEASURED, RULE, saved_revenue
from scoring.scores import ScoringModels
from serving.batch import score_partners
from tests.support import FAST_SETTINGS, mlflow_uris_restored
from training.registry import load_measured_actions, log_measured_actions
from training.result import TrainingResult
from training.uplift import MeasuredActions, fit_action_uplift

AS_OF = pd.Timestamp("2026-07-01", tz="UTC")
CONFIG = load_config(env={}, overrides=FAST_SETTINGS)
CHECK_IN = "personal_check_in"


@pytest.fixture(scope="module")
def measured() -> MeasuredActions:
    """A check-in measured to keep partners silent for a week or more, not those active in the last days."""
    rng = np.random.default_rng(3)
    n = 40_000
    days = rng.integers(0, 40, n).astype(float)
    holdout = rng.random(n) < 0.2
    kept = rng.random(n) < 0.5 + np.where(~holdout & (days >= 7), 0.4, 0.0)
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 150, n)), unit="D")
    rows = pd.DataFrame({"ts": ts, LAST_ACTIVITY: days, "holdout": holdout, "kept": kept.astype(float)})
    return MeasuredActions(
        models={CHECK_IN: fit_action_uplift(rows, CHECK_IN, [LAST_ACTIVITY], [], seed=1)},
        segments={CHECK_IN: ["workhorse", "star"]},
        revenue_if_kept={CHECK_IN: {"workhorse": 300.0, "star": 2000.0}},
        effects=pd.DataFrame({"action": [CHECK_IN], "segment": ["all"], "silent_effect": [-0.3]}),
        evaluations=[
            {"action": CHECK_IN, "qini": 0.05, "qini_low": 0.03, "qini_high": 0.07, "effect": 0.3, "uplift_at": {"0.1": 0.4}, "beats_random": True}
        ],
        measured_through="2026-05-30T00:00:00+00:00",
    )


@pytest.fixture(scope="module")
def program(generated_dir: Path) -> Program:
    return load_program(generated_dir, Config().data, pd.Timestamp("2026-11-01", tz="UTC"))


def test_the_risk_list_proposes_measured_actions_where_they_save_and_the_rules_elsewhere(
    program: Program, fast_training: TrainingResult, measured: MeasuredActions
) -> None:
    risk, potential = fast_training.models["deactivation_risk"], fast_training.models["upgrade_potential"]
    actions = ActionTable.load(default_actions_path())
    by_rules = score_partners(program.partners, program.events, AS_OF, CONFIG, ScoringModels(risk, "1", potential, "1"), actions, previous=None)
    with_measured = ScoringModels(risk, "1", potential, "1", measured=measured, measured_version="2")
    scored = score_partners(program.partners, program.events, AS_OF, CONFIG, with_measured, actions, previous=None).set_index("partner_id")
    assert set(by_rules["action_basis"]) == {RULE} and by_rules["expected_saved_revenue"].isna().all()

    assert with_measured.measured_label(CONFIG) == "partner-churn-action-uplift:v2"
    assert ScoringModels(risk, "1", potential, "1").measured_label(CONFIG) == ""
    assert with_measured.measured_warning(AS_OF, CONFIG) == ""  # measured through 2026-05-30, before the scoring date
    backfill = with_measured.measured_warning(pd.Timestamp("2026-04-01", tz="UTC"), CONFIG)
    assert "learned from actions through 2026-05-30, after this scoring date 2026-04-01" in backfill

    chosen = scored[scored["action_basis"] == MEASURED]
    # 7 on this program; 10 or more before the generator's stars and workhorses became more regular (fewer a week silent)
    assert len(chosen) >= 5, "setup: slowing workhorses and stars the check-in is measured to keep"
    assert (chosen["action"] == CHECK_IN).all() and chosen["segment"].isin(["workhorse", "star"]).all()
    assert (chosen["personal_contact"] == "scheduled").all()  # a measured call that did not fit went back to the rules
    uplift = measured.models[CHECK_IN].uplift(chosen.reset_index())
    stake = np.where(chosen["expected_revenue"] > 0, chosen["expected_revenue"], chosen["segment"].map({"workhorse": 300.0, "star": 2000.0}))
    assert chosen["expected_saved_revenue"].to_numpy() == pytest.approx(uplift * stake - actions.action(CHECK_IN).cost)
    assert (chosen["expected_saved_revenue"] > 0).all()
    assert (chosen[LAST_ACTIVITY] >= 6).all()  # the partners the check-in keeps (small trees may blur the edge at 7 days)

    rules = scored[scored["action_basis"] == RULE]
    assert rules["expected_saved_revenue"].isna().all()
    owed = scored["action"] == "unpaid_commission_reminder"
    assert owed.any() and (scored.loc[owed, "action_basis"] == RULE).all()  # money owed first, whatever a call might save
    # Where the check-in was weighed and not proposed, it saves nothing (NaN: its uplift there is under
    # effects.min_uplift; or at most its cost), or its call found no room that day.
    weighed = rules[rules["segment"].isin(["workhorse", "star"]) & (rules["action"] != "unpaid_commission_reminder")].reset_index()
    saved = saved_revenue(weighed, measured, actions, min_uplift=CONFIG.effects.min_uplift)[CHECK_IN]
    assert (
        (np.isnan(saved) | (saved <= 0)) | (weighed["personal_contact"] != "scheduled").to_numpy() | (weighed["action"] != CHECK_IN).to_numpy()
    ).all()
    never = rules[~rules["segment"].isin(["workhorse", "star"])]
    assert (never["action"] == by_rules.set_index("partner_id").loc[never.index, "action"]).all()  # no evidence there: the rules'


def test_measured_actions_go_through_the_registry_and_the_latest_measurement_decides(measured: MeasuredActions, tmp_path: Path) -> None:
    config = load_config(
        env={}, overrides=[f"paths.mlflow_tracking_uri=sqlite:///{tmp_path}/mlflow.db", f"paths.mlflow_artifacts_dir={tmp_path}/artifacts"]
    )
    with mlflow_uris_restored():
        assert load_measured_actions(config) is None  # nothing registered: the rules choose
        run_id, version = log_measured_actions(measured, config=config, as_of=AS_OF)
        assert run_id and version == "1"
        found = load_measured_actions(config)
        assert found is not None and found[1] == "1"
        loaded = found[0]
        probe = pd.DataFrame({LAST_ACTIVITY: [1.0, 20.0]})
        assert np.array_equal(loaded.models[CHECK_IN].uplift(probe), measured.models[CHECK_IN].uplift(probe))
        assert loaded.segments == measured.segments and loaded.evaluations[0]["beats_random"] is True

        nothing = MeasuredActions({}, {}, {}, measured.effects, [], measured.measured_through)
        _, none = log_measured_actions(nothing, config=config, as_of=AS_OF)
        assert none is None
        assert load_measured_actions(config) is None  # the latest measurement found nothing to target: no champion
        _, third = log_measured_actions(measured, config=config, as_of=AS_OF)
        assert third == "2"  # the run that found nothing registered no version
        found = load_measured_actions(config)
        assert found is not None and found[1] == third


def test_measured_actions_reading_features_the_config_does_not_make_are_not_used(
    measured: MeasuredActions, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A champion measured under another feature schema would fail every scoring: the rules choose instead, with one line."""
    from dataclasses import replace

    from serving.models import measured_actions_in_force

    config = load_config(
        env={}, overrides=[f"paths.mlflow_tracking_uri=sqlite:///{tmp_path}/mlflow.db", f"paths.mlflow_artifacts_dir={tmp_path}/artifacts"]
    )
    foreign = replace(measured.models[CHECK_IN], features=["no_such_feature"])
    with mlflow_uris_restored():
        log_measured_actions(replace(measured, models={CHECK_IN: foreign}), config=config, as_of=AS_OF)
        with caplog.at_level("WARNING", logger="partner_churn.service"):
            assert measured_actions_in_force(config) == (None, None)
        assert "read 1 features this config does not make (e.g. no_such_feature)" in caplog.text
        log_measured_actions(measured, config=config, as_of=AS_OF)
        in_force, version = measured_actions_in_force(config)
        assert in_force is not None and version == "2"
