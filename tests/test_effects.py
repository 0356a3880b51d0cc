"""Measured effects of logged retention actions: the intervals and verdicts on frames with known answers, the
point-in-time rows against a brute-force reference on a tiny program, and `partner-churn effects` end to end
on the session's generated program, with its bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from features.pipeline import build_features
from partner_churn.config import Config, EffectsConfig, load_config
from retention.effect_rows import action_rows, segment_inputs
from retention.effects import estimate_effects, mean_difference, proportion_difference, verdict
from serving.effects_files import latest_effects
from tests.support import assert_one_line_error, run, store

CONFIG = Config()
DAY = pd.Timestamp("2025-06-10", tz="UTC")
"""The day of the tiny program's action (logged at 15:00)."""

# ---------------------------------------------------------------------------------------------------
# Intervals and verdicts


def wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_proportion_interval_is_newcombes_hybrid_score_interval() -> None:
    z = stats.norm.ppf(0.975)
    for a, n1, b, n2 in [(30, 400, 25, 100), (0, 50, 3, 40), (50, 50, 10, 60), (7, 31, 7, 31)]:
        (l1, u1), (l2, u2) = wilson(a, n1, z), wilson(b, n2, z)
        p1, p2 = a / n1, b / n2
        expected = (p1 - p2 - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), p1 - p2 + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
        got = proportion_difference(a, n1, b, n2, confidence=0.95)
        assert got.effect == pytest.approx(p1 - p2)
        assert (got.low, got.high) == pytest.approx(expected, abs=1e-9)


def test_revenue_interval_is_welchs_t_interval_by_hand() -> None:
    rng = np.random.default_rng(3)
    treated = rng.exponential(100, 80) * (rng.random(80) < 0.3)
    holdout = rng.exponential(60, 35) * (rng.random(35) < 0.3)
    v1, v2 = treated.var(ddof=1) / treated.size, holdout.var(ddof=1) / holdout.size
    df = (v1 + v2) ** 2 / (v1**2 / (treated.size - 1) + v2**2 / (holdout.size - 1))
    half = stats.t.ppf(0.95, df) * np.sqrt(v1 + v2)
    diff = treated.mean() - holdout.mean()
    got = mean_difference(treated, holdout, confidence=0.9)
    assert tuple(got) == pytest.approx((diff, diff - half, diff + half), rel=1e-9)
    assert tuple(mean_difference(np.zeros(40), np.zeros(40), confidence=0.95)) == (0.0, 0.0, 0.0)


def test_verdict_reads_the_side_of_zero_the_interval_is_on() -> None:
    interval = proportion_difference(10, 1000, 100, 1000, confidence=0.95)  # 1% silent against 10%
    assert verdict(interval, good="lower") == "works"
    assert verdict(interval, good="higher") == "harms"
    assert verdict(proportion_difference(50, 500, 10, 100, confidence=0.95), good="lower") == "no evidence"  # exactly zero


def rows_of(arms: dict[str, tuple[list[float], list[float]]], *, holdout_missing: int = 0) -> pd.DataFrame:
    """Rows of `action_rows`' shape: per action, (silent values of treated, of holdout); revenue = 100 * (1 - silent)."""
    parts = []
    for action, (treated, held) in arms.items():
        silent = np.array([*treated, *held], dtype=float)
        holdout = pd.array([False] * len(treated) + [True] * len(held), dtype="boolean")
        parts.append(pd.DataFrame({"action": action, "holdout": holdout, "segment": "workhorse", "risk_band": None, "silent": silent}))
    rows = pd.concat(parts, ignore_index=True)
    rows.loc[rows.index[:holdout_missing], "holdout"] = pd.NA
    return rows.assign(revenue=100 * (1 - rows["silent"]))


def test_estimate_gives_each_verdict_where_the_data_says_so() -> None:
    rows = rows_of(
        {
            "big": ([0.0] * 380 + [1.0] * 20, [0.0] * 60 + [1.0] * 40),  # 5% silent against 40%, many rows
            "same": ([0.0] * 90 + [1.0] * 10, [0.0] * 45 + [1.0] * 5),  # 10% in both arms
            "small": ([0.0] * 100, [1.0] * 29),  # a huge difference, but 29 held out
            "never": ([0.0] * 200 + [1.0] * 50, []),  # nobody held out
        },
        holdout_missing=3,
    )
    rows.loc[rows.index[-5:], ["silent", "revenue"]] = np.nan  # horizons not passed
    table = estimate_effects(rows, EffectsConfig()).set_index(["action", "segment"])
    overall = table.xs("all", level="segment")
    assert overall["silent_verdict"].to_dict() == {"big": "works", "never": "no holdout", "same": "no evidence", "small": "too few rows"}
    assert overall["revenue_verdict"].to_dict() == {"big": "works", "never": "no holdout", "same": "no evidence", "small": "too few rows"}
    assert overall.loc["same", "silent_effect"] == 0 and overall.loc["same", "silent_low"] < 0 < overall.loc["same", "silent_high"]
    assert overall.loc["big", "silent_effect"] == pytest.approx(20 / 397 - 0.40)  # the rows without a holdout value were treated, not silent
    assert overall.loc["big", "n_unknown_arm"] == 3 and overall.loc["big", "n_treated"] == 397  # three rows in neither arm
    assert "without a holdout value" in overall.loc["big", "message"]
    assert overall.loc["never", "n_no_outcome"] == 5 and "no effect can be claimed" in overall.loc["never", "message"]
    assert np.isnan(overall.loc["never", "silent_effect"]) and np.isnan(overall.loc["small", "silent_effect"])
    assert table.loc[("big", "workhorse"), "silent_verdict"] == "works"  # the segment row of the one segment
    assert "risk_band" in table and set(table["risk_band"]) == {"all"}  # no band known: no band rows
    assert (
        estimate_effects(rows, EffectsConfig(min_rows_per_arm=20)).set_index(["action", "segment"]).loc[("small", "all"), "silent_verdict"] == "works"
    )


# ---------------------------------------------------------------------------------------------------
# Point-in-time rows on a tiny program


def tiny() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Partner A (signed up in January, active until the action), B (signs up on the action's day, after
    midnight), each contacted on DAY at 15:00; C holds the program's other revenue."""
    utc = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731
    partners = pd.DataFrame({"partner_id": ["A", "B", "C"], "signup_at": [utc("2025-01-05"), utc("2025-06-10 08:00"), utc("2025-01-01")]})
    events = pd.DataFrame(
        {
            "partner_id": ["A", "A", "A", "C", "C"],
            "ts": [utc("2025-05-20 10:00"), utc("2025-05-28 09:00"), utc("2025-06-01 12:00"), utc("2025-05-01"), utc("2025-12-01")],
            "event_type": ["click", "sale", "login", "sale", "login"],
            "amount": [0.0, 120.0, 0.0, 500.0, 0.0],
        }
    )
    actions = pd.DataFrame(
        {
            "partner_id": ["A", "B"],
            "ts": [DAY + pd.Timedelta(hours=15), DAY + pd.Timedelta(hours=15)],
            "action": ["personal_contact", "onboarding_call"],
            "holdout": pd.array([False, True], dtype="boolean"),
        }
    )
    return partners, events, actions


def with_event(events: pd.DataFrame, partner: str, ts: pd.Timestamp, event_type: str = "click", amount: float = 0.0) -> pd.DataFrame:
    extra = pd.DataFrame({"partner_id": [partner], "ts": [ts], "event_type": [event_type], "amount": [amount]})
    return pd.concat([events, extra], ignore_index=True).sort_values(["partner_id", "ts"], kind="stable").reset_index(drop=True)


AS_OF = pd.Timestamp("2026-01-01", tz="UTC")


def test_rows_take_features_from_before_the_actions_midnight_as_build_features_does() -> None:
    partners, events, actions = tiny()
    rows = action_rows(partners, events, actions, AS_OF, CONFIG).set_index("partner_id")
    reference = build_features(partners, events, [DAY], CONFIG).set_index("partner_id")  # the slow, obvious way
    for column in [*segment_inputs(CONFIG), "segment"]:
        assert rows.loc["A", column] == reference.loc["A", column]
    assert rows.loc["A", "days_since_last_activity"] == pytest.approx(8.5)  # the login of June 1st, 12:00
    assert "B" not in reference.index and rows.loc["B", "segment"] == "newbie"  # not signed up at midnight: a newbie
    assert rows.loc["A", "silent"] == 1.0 and rows.loc["A", "revenue"] == 0.0  # nothing in the 30 days from DAY
    assert rows.loc["B", "holdout"] and not rows.loc["A", "holdout"]


def test_an_event_on_the_actions_day_is_outcome_never_feature() -> None:
    partners, events, actions = tiny()
    before = action_rows(partners, events, actions, AS_OF, CONFIG)
    for moment in (DAY, DAY + pd.Timedelta(hours=10), DAY + pd.Timedelta(days=29, hours=23)):  # before the contact, after it, the horizon's last hour
        after = action_rows(partners, with_event(events, "A", moment, "sale", 80.0), actions, AS_OF, CONFIG)
        pd.testing.assert_frame_equal(after[[*segment_inputs(CONFIG), "segment"]], before[[*segment_inputs(CONFIG), "segment"]])
        assert after["silent"].tolist() == [0.0, 1.0] and after["revenue"].tolist() == [80.0, 0.0]
    past = action_rows(partners, with_event(events, "A", DAY + pd.Timedelta(days=30), "sale", 80.0), actions, AS_OF, CONFIG)
    assert past["silent"].tolist() == [1.0, 1.0]  # the horizon is [DAY, DAY + 30 days)


def test_an_event_before_the_day_changes_the_segment_inputs() -> None:
    partners, events, actions = tiny()
    before = action_rows(partners, events, actions, AS_OF, CONFIG)
    after = action_rows(partners, with_event(events, "A", DAY - pd.Timedelta(hours=1), "sale", 50.0), actions, AS_OF, CONFIG)
    assert after.loc[0, "days_since_last_activity"] == pytest.approx(1 / 24) != before.loc[0, "days_since_last_activity"]
    assert after.loc[0, "revenue_90d"] == before.loc[0, "revenue_90d"] + 50
    assert after.loc[0, "silent"] == before.loc[0, "silent"]


def test_rows_whose_horizon_passes_as_of_or_the_data_have_no_outcome() -> None:
    partners, events, actions = tiny()
    early = action_rows(partners, events, actions, DAY + pd.Timedelta(days=29), CONFIG)
    assert early["silent"].isna().all() and early["revenue"].isna().all()
    just = action_rows(partners, events, actions, DAY + pd.Timedelta(days=30), CONFIG)
    assert just["silent"].notna().all()
    short_data = events[events["ts"] < DAY + pd.Timedelta(days=20)]  # the data ends before the horizon does
    assert action_rows(partners, short_data, actions, AS_OF, CONFIG)["silent"].isna().all()
    assert action_rows(partners, events, actions, DAY + pd.Timedelta(hours=14), CONFIG).empty  # logged at 15:00, after as_of


def test_a_shorter_horizon_is_a_shorter_outcome_window() -> None:
    partners, events, actions = tiny()
    events = with_event(events, "A", DAY + pd.Timedelta(days=20), "login")
    assert action_rows(partners, events, actions, AS_OF, CONFIG).loc[0, "silent"] == 0.0
    short = load_config(env={}, overrides=["labels.horizon_days=14"])
    assert action_rows(partners, events, actions, AS_OF, short).loc[0, "silent"] == 1.0


def test_risk_band_is_the_latest_scoring_before_the_day_within_its_age() -> None:
    partners, events, actions = tiny()
    scores = pd.DataFrame(
        {
            "partner_id": ["A", "A", "A", "B"],
            "as_of": [DAY - pd.Timedelta(days=8), DAY - pd.Timedelta(days=3), DAY + pd.Timedelta(days=1), DAY - pd.Timedelta(days=8)],
            "risk_band": ["low", "high", "medium", "low"],
        }
    )
    rows = action_rows(partners, events, actions, AS_OF, CONFIG, scores=scores)
    assert rows["risk_band"].tolist() == ["high", None]  # B's only scoring is 8 days old (effects.max_score_age_days: 7)
    rows = pd.concat([rows] * 40, ignore_index=True).assign(holdout=pd.array([False, True] * 40, dtype="boolean"))
    table = estimate_effects(rows, EffectsConfig())
    assert set(zip(table["segment"], table["risk_band"])) >= {("all", "high")}


# ---------------------------------------------------------------------------------------------------
# The command


def settings(tmp: Path) -> list[str]:
    """A throwaway MLflow store, reports and scores folder."""
    return [*store(tmp), "--set", f"paths.output_dir={tmp}/scores"]


def test_effects_end_to_end(generated_dir: Path, tmp_path: Path) -> None:
    result = run("effects", "--data", str(generated_dir), *settings(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "silence, 95% CI" in result.stdout and "pp [" in result.stdout
    out = tmp_path / "reports" / "effects" / "effects_2026-07-01.csv"
    assert f"effects table: {out}" in result.stdout
    table = pd.read_csv(out)
    assert set(table["action"]) == set(pd.read_parquet(generated_dir / "actions.parquet", columns=["action"])["action"])
    assert table["silent_verdict"].isin(["works", "harms", "no evidence", "too few rows"]).all()
    assert not any(p.name.endswith(".tmp") for p in out.parent.iterdir())
    # Each action with enough rows has its uplift model judged on its latest rows, and the run is logged.
    judged = [line for line in result.stdout.splitlines() if line.startswith("  ") and ": Qini " in line]
    verdicts = [line.split("pp: ", 1)[1] for line in judged]
    assert judged and all(v == "beats random targeting" or v.startswith("does not beat random targeting") for v in verdicts), result.stdout[-3000:]
    assert "MLflow run " in result.stdout and (tmp_path / "mlflow.db").is_file()
    # The evaluations beside the table, for the scoring's report: strict JSON, a record per judged action with its Qini curve.
    uplift = out.parent / "uplift_2026-07-01.json"
    assert f"uplift evaluations: {uplift}" in result.stdout
    document = json.loads(uplift.read_text(encoding="utf-8"), parse_constant=lambda name: pytest.fail(f"{name} in {uplift}: not strict JSON"))
    assert document["as_of"] == "2026-07-01T00:00:00+00:00" and document["confidence"] == 0.95 and document["horizon_days"] == 30
    assert [e["action"] for e in document["evaluations"]] == [line.split(":")[0].strip() for line in judged]
    assert all(len(e["curve"]) == 21 and e["curve"][0] == 0.0 for e in document["evaluations"])
    assert all(isinstance(e["qini"], float) and isinstance(e["beats_random"], bool) for e in document["evaluations"])
    # Short of the gate with a Qini above 0: the test rows a Qini this size would need, in the line and the record.
    for e, judged_as in zip(document["evaluations"], verdicts, strict=True):
        short = not e["beats_random"] and e["qini"] > 0
        assert (e["rows_to_beat_random"] is not None) == short and (
            "would show it beating random targeting" in judged_as or "too small to tell" in judged_as
        ) == short
        assert not short or f"({e['rows_to_beat_random']:,}) would show it" in judged_as or "too small to tell" in judged_as
    assert len(document["skipped"]) == len([line for line in result.stdout.splitlines() if "too few to learn and judge" in line])
    read = latest_effects(tmp_path / "reports", pd.Timestamp("2026-07-01", tz="UTC"))  # as the scoring's report reads them
    assert read is not None and read.evaluated and len(read.table) == len(table) and len(read.evaluations) == len(document["evaluations"])
    assert not any(p.name.endswith(".tmp") for p in out.parent.iterdir())

    short = run(
        "effects",
        "--data",
        str(generated_dir),
        "--as-of",
        "2026-03-01",
        "--set",
        "labels.horizon_days=14",
        *settings(tmp_path / "short"),
    )
    assert short.returncode == 0, short.stderr
    assert "over the 14 days" in short.stdout
    earlier = pd.read_csv(tmp_path / "short" / "reports" / "effects" / "effects_2026-03-01.csv").set_index(["action", "segment", "risk_band"])
    assert (earlier["n_treated"] + earlier["n_holdout"]).sum() < (table["n_treated"] + table["n_holdout"]).sum()

    # Only looking: the same table printed, nothing logged or written, so the report and the scoring keep
    # the measurement in force.
    looked = run("effects", "--data", str(generated_dir), "--no-register", *settings(tmp_path / "look"))
    assert looked.returncode == 0 and "silence, 95% CI" in looked.stdout and "nothing logged or written" in looked.stdout
    assert not (tmp_path / "look" / "mlflow.db").exists() and not (tmp_path / "look" / "reports").exists()


def copy_program(source: Path, target: Path, *, actions: pd.DataFrame | None) -> Path:
    target.mkdir()
    for name in ("partners", "events"):
        shutil.copy(source / f"{name}.parquet", target / f"{name}.parquet")
    if actions is not None:
        actions.to_parquet(target / "actions.parquet", index=False)
    return target


def test_bad_inputs_are_one_line_and_exit_2(generated_dir: Path, tmp_path: Path) -> None:
    bare = copy_program(generated_dir, tmp_path / "bare", actions=None)
    assert_one_line_error(run("effects", "--data", str(bare), *settings(tmp_path)), "no actions table")
    assert_one_line_error(
        run("effects", "--data", str(generated_dir), "--as-of", "2024-06-01", *settings(tmp_path)), "no logged action before 2024-06-01"
    )


def test_two_registering_runs_at_once_are_refused_in_one_line(generated_dir: Path, tmp_path: Path) -> None:
    """Each would register, then write the report's files in either order: the second is refused, the looking
    one (--no-register) goes on."""
    from serving.effects_files import effects_lock

    with effects_lock(tmp_path / "reports"):
        assert_one_line_error(run("effects", "--data", str(generated_dir), *settings(tmp_path)), "another partner-churn effects is running")
        assert run("effects", "--data", str(generated_dir), "--no-register", *settings(tmp_path)).returncode == 0


def test_actions_without_holdout_claim_no_effect(generated_dir: Path, tmp_path: Path) -> None:
    actions = pd.read_parquet(generated_dir / "actions.parquet")
    actions = actions[actions["action"] == actions["action"].iloc[-1]].drop(columns=["holdout"])
    folder = copy_program(generated_dir, tmp_path / "no-holdout", actions=actions)
    result = run("effects", "--data", str(folder), *settings(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "no holdout" in result.stdout and "no effect can be claimed" in result.stdout
    table = pd.read_csv(tmp_path / "reports" / "effects" / "effects_2026-07-01.csv")
    assert (table["silent_verdict"] == "no holdout").all() and (table["n_holdout"] == 0).all() and table["silent_effect"].isna().all()
