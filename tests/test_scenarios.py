"""Scenarios injected into the generator: nothing changes before the date, each change shows after it in the
events and the latent truth, the oracle stays consistent with it, and bad options are one clear line."""

from __future__ import annotations

import datetime as dt
import json
import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from partner_churn.config import GeneratorConfig
from partner_churn.errors import InputError
from synthetic.definitions import GeneratedProgram
from synthetic.oracle import oracle_deactivation_risk
from synthetic.program import generate_program
from synthetic.scenarios import COMMISSION_CUT_FACTOR, NEW_SOURCE_TYPE, SCENARIOS, program_before
from tests.support import assert_one_line_error, run

N, MONTHS, SEED = 1_500, 10, 5
CHANGE = dt.date(2025, 7, 1)
STAMP = pd.Timestamp(CHANGE, tz="UTC")


@pytest.fixture(scope="module")
def unchanged() -> GeneratedProgram:
    return generate_program(N, MONTHS, SEED)


@pytest.fixture(scope="module", params=list(SCENARIOS))
def changed(request: pytest.FixtureRequest) -> tuple[str, GeneratedProgram]:
    return request.param, generate_program(N, MONTHS, SEED, scenarios=[request.param], scenario_from=CHANGE)


def daily(program: GeneratedProgram, before: bool = True) -> pd.Series:
    """Events per partner, UTC day, type and amount, before (or from) the change date."""
    events = program.events.to_pandas()
    events = events[(events["ts"] < STAMP) if before else (events["ts"] >= STAMP)]
    keys = [events["partner_id"].astype(str), events["ts"].dt.floor("D"), events["event_type"].astype(str), events["amount"]]
    return events.groupby(keys).size().sort_index()


def latent_before(program: GeneratedProgram) -> pd.DataFrame:
    latent = program.latent.to_pandas()
    latent["partner_id"] = latent["partner_id"].astype(str)
    base = ["partner_id", "date", "state", "dropout_hazard", "activity_rate", "comeback_rate", "working_week_rate", "off_week_activity_rate"]
    return latent.loc[latent["date"] < CHANGE, base].reset_index(drop=True)


def test_no_scenario_is_the_unchanged_program(unchanged: GeneratedProgram) -> None:
    again = generate_program(N, MONTHS, SEED, scenarios=())
    pd.testing.assert_frame_equal(unchanged.partners, again.partners)
    assert unchanged.events.equals(again.events) and unchanged.latent.equals(again.latent)
    assert again.scenarios == () and "exit_hazard" not in again.latent.column_names


def test_everything_before_the_change_is_the_unchanged_program(unchanged: GeneratedProgram, changed: tuple[str, GeneratedProgram]) -> None:
    name, program = changed
    old = unchanged.partners[unchanged.partners["signup_at"] < STAMP]
    new = program.partners[program.partners["signup_at"] < STAMP]
    pd.testing.assert_series_equal(old["partner_id"], new["partner_id"])
    pd.testing.assert_series_equal(old["signup_at"], new["signup_at"])
    pd.testing.assert_series_equal(daily(unchanged), daily(program))
    pd.testing.assert_frame_equal(latent_before(unchanged), latent_before(program))
    assert not daily(unchanged, before=False).equals(daily(program, before=False)), f"{name} changed nothing after the date"


def test_new_traffic_source_brings_a_burst_of_low_quality_partners(unchanged: GeneratedProgram) -> None:
    program = generate_program(N, MONTHS, SEED, scenarios=["new_traffic_source"], scenario_from=CHANGE)
    partners = program.partners
    new = partners[partners["partner_type"] == NEW_SOURCE_TYPE]
    later = int((unchanged.partners["signup_at"] >= STAMP).sum())
    assert len(new) == round(0.6 * later) and (new["signup_at"] >= STAMP).all()
    assert partners["partner_id"].is_unique and partners["signup_at"].is_monotonic_increasing
    month = new["signup_at"] < STAMP + pd.Timedelta(days=30)
    assert month.mean() > 0.5  # front-loaded: most arrive in the first month
    events = program.events.to_pandas()
    events["new"] = events["partner_id"].astype(str).isin(set(new["partner_id"]))
    counts = events.groupby(["new", events["event_type"].astype(str)]).size().unstack(fill_value=0)
    lead_per_click = counts["lead"] / counts["click"]
    assert lead_per_click[True] < 0.6 * lead_per_click[False]
    assert counts.loc[True, "click"] > 0.1 * counts.loc[False, "click"]


def test_commission_cut_lowers_rates_and_the_biggest_partners_leave_for_good(unchanged: GeneratedProgram) -> None:
    program = generate_program(N, MONTHS, SEED, scenarios=["commission_cut"], scenario_from=CHANGE)
    expected = np.round(unchanged.partners["commission_rate"] * COMMISSION_CUT_FACTOR, 3)
    np.testing.assert_allclose(program.partners["commission_rate"], expected)
    latent = program.latent.to_pandas()
    assert "exit_hazard" in latent and (latent.loc[latent["date"] < CHANGE, "exit_hazard"] == 0).all()
    assert latent.loc[latent["date"] >= CHANGE, "exit_hazard"].max() > 0.02
    # A clean exit: productive one day, dormant the next with no chance of a stray login (a partner that
    # merely falls dormant still logs in now and then), and from then on never awake or able to come back.
    state = latent["state"].astype(str).to_numpy()
    same = latent["partner_id"].to_numpy()[1:] == latent["partner_id"].to_numpy()[:-1]
    left = np.flatnonzero(same & (state[:-1] == "productive") & (state[1:] == "dormant") & (latent["activity_rate"].to_numpy()[1:] == 0)) + 1
    assert len(left) > 5
    for row in left:
        rest = latent[(latent["partner_id"] == latent["partner_id"].iloc[row]) & (latent["date"] >= latent["date"].iloc[row])]
        assert (rest["state"].astype(str) == "dormant").all() and (rest["comeback_rate"] == 0).all() and (rest["activity_rate"] == 0).all()
    ids = set(latent["partner_id"].iloc[left].astype(str))
    events = program.events.to_pandas()
    exit_day = latent.iloc[left].assign(partner_id=lambda f: f["partner_id"].astype(str)).set_index("partner_id")["date"]
    after_exit = events[events["partner_id"].astype(str).isin(ids)]
    after_exit = after_exit[after_exit["ts"].dt.date.to_numpy() >= after_exit["partner_id"].astype(str).map(exit_day).to_numpy()]
    assert not after_exit["event_type"].astype(str).isin(["login", "click", "lead", "sale", "link_created"]).any()
    sales = daily(program, before=False).reset_index()
    base = daily(unchanged, before=False).reset_index()
    assert (sales["event_type"] == "click").sum() < (base["event_type"] == "click").sum()


def test_payout_delay_pays_later_and_not_at_all(unchanged: GeneratedProgram) -> None:
    program = generate_program(N, MONTHS, SEED, scenarios=["payout_delay"], scenario_from=CHANGE)

    def paid_share(p: GeneratedProgram) -> float:
        events = p.events.to_pandas()
        late = events[events["ts"] >= STAMP]
        return (late["event_type"] == "payout_paid").sum() / max((late["event_type"] == "payout_requested").sum(), 1)

    assert paid_share(program) < 0.75 * paid_share(unchanged)


def test_oracle_stays_consistent_after_the_commission_cut() -> None:
    """The latent truth records the clean exits, so the oracle still ranks and is calibrated after the change."""
    program = generate_program(4_000, MONTHS, SEED, scenarios=["commission_cut"], scenario_from=CHANGE)
    cutoff, horizon = STAMP + pd.Timedelta(days=45), pd.Timedelta(days=30)
    events = program.events.to_pandas()
    qualifying = events[
        events["event_type"].astype(str).isin(["login", "link_created", "click", "lead", "sale", "training_completed", "webinar_attended"])
    ]
    window = qualifying["ts"]
    active = pd.Index(qualifying.loc[(window >= cutoff - horizon) & (window < cutoff), "partner_id"].astype(str).unique())
    later = set(qualifying.loc[(window >= cutoff) & (window < cutoff + horizon), "partner_id"].astype(str))
    deactivated = np.array([p not in later for p in active])
    risk = oracle_deactivation_risk(program.latent.to_pandas(), cutoff, 30).reindex(active)
    assert risk.notna().all()
    assert 0.8 <= roc_auc_score(deactivated, risk) <= 0.97
    assert abs(risk.mean() - deactivated.mean()) < 0.06


def test_program_before_cuts_every_table_at_the_date(unchanged: GeneratedProgram) -> None:
    cut = program_before(unchanged, CHANGE)
    assert (cut.partners["signup_at"] < STAMP).all() and len(cut.partners) < len(unchanged.partners)
    assert cut.events.num_rows and cut.events.to_pandas()["ts"].max() < STAMP
    assert (cut.actions["ts"] < STAMP).all() and max(cut.latent.column("date").to_pylist()) < CHANGE


@pytest.mark.parametrize(
    ("names", "start", "fragment"),
    [
        (["price_war"], CHANGE, "unknown scenario price_war"),
        (["payout_delay", "payout_delay"], CHANGE, "named twice"),
        (["payout_delay"], None, "--scenario-from"),
        (["payout_delay"], dt.date(2030, 1, 1), "inside the simulated period"),
    ],
)
def test_bad_scenarios_are_refused(names: list[str], start: dt.date | None, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        generate_program(50, 3, 1, scenarios=names, scenario_from=start)


def test_config_names_the_same_scenarios() -> None:
    annotation = GeneratorConfig.model_fields["scenarios"].annotation
    assert set(typing.get_args(typing.get_args(annotation)[0])) == set(SCENARIOS)


@pytest.mark.slow
def test_generate_command_injects_a_scenario_and_refuses_a_bad_one(tmp_path: Path) -> None:
    out = tmp_path / "program"
    result = run(
        "generate",
        "--partners",
        "300",
        "--months",
        "6",
        "--seed",
        "2",
        "--scenario",
        "payout_delay",
        "--scenario-from",
        "2025-04-01",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "changed from 2025-04-01: payout_delay" in result.stdout
    assert json.loads((out / "scenario.json").read_text())["from"] == "2025-04-01"
    assert run("validate", "--data", str(out)).returncode == 0
    assert_one_line_error(
        run(
            "generate", "--out", str(tmp_path / "x"), "--partners", "50", "--months", "2", "--scenario", "price_war", "--scenario-from", "2025-02-01"
        ),
        "unknown scenario price_war",
    )


def test_a_change_date_without_a_change_is_an_error() -> None:
    import datetime as dt

    from partner_churn.errors import InputError
    from synthetic.program import generate_program

    with pytest.raises(InputError, match="--scenario-from 2025-02-01 without --scenario"):
        generate_program(50, 3, seed=1, scenario_from=dt.date(2025, 2, 1))
