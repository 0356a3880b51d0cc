"""The measured effects of logged actions against the generator's truth (issue #16, items 4 and 5).

Eight programs (seeds 1-8, 5,000 partners x 18 months each) are generated with the truth of every logged
action (`synthetic.action_truth`), written and loaded as `partner-churn effects` sees them, and measured with
`action_rows` + `estimate_effects` at the command's default cutoff. The truth of a cell is aggregated over
exactly the rows that entered its estimate: the cell's action, the segment the estimator assigned (features
before the action's midnight, not the generator's plan segment), a known arm, an observed horizon, both arms.
That is the average effect among the partners contacted or held out, the quantity treated minus held out
estimates.

Cells: the rows of the effects table whose verdict is not `too few rows` / `no holdout`. A segment row that
holds all of its action's rows (every onboarding call and series goes to newbies) is the `all` row again; it
is counted once. Each program gives 6 distinct cells per outcome (onboarding call, onboarding series,
check-in overall and for workhorses, reactivation offer overall and for sleepers; the stars' and newbies'
groups have too few rows), so "90%" of 48 allows four misses. Why eight programs and not four: the four of
seeds 1-4 gave silence 21 of 24 with the generator at the design's mix (below the bar), seeds 1-12 65 of 72
(90.3%), so the bar rests on more cells; with intervals that held exactly 95%, independent cells would fail
it about 12% of the time at 24 and 9% at 48 (binomial), so most of what eight programs buy is a truer
figure, not safety. Silence coverage near 90% is partly the comeback offer's gap (below): 21 of its 24.

What the truth is not: exact. Each row's potential outcomes are means over 16 forked copies per arm, so a
cell's truth has its own standard error. For silence it is computed from the copies' binomial spread; for
revenue it is bounded by the arms' realised variances (a partner's spread given its state at the action is
at most the arm's spread, on average). Both stay under a quarter of the estimate's standard error (a
combined interval would be about 3% wider), so the comparison treats the truth as exact.

The onboarding call: its truth is the call alone, while the log's comparison also carries the onboarding
series that a newbie may get a week or more after the call, within the call's horizon (and an engaged newbie
is likelier to get it). `test_onboarding_call_truth_is_comparable` measures that difference with the series'
own truth (overstated: the series' truth covers its own 30 days) and finds it well inside the call's intervals
(about 1% of the half-width for silence; for revenue 4-40% per program, about a quarter pooled,
upward), so the call stays in the coverage.

Measured on 2026-12-04 with the generator at the design's segment mix (stars about 60% of revenue): silence
44 of 48 cells (seeds 1-12: 65 of 72), revenue 48 of 48 (71 of 72). Revenue over a horizon is very skewed
(most partners earn nothing, a few earn most of it), so Welch's interval (`retention.effects.mean_difference`)
holds its level only as well as a handful of large earners allow: on a state of the same generator that
differed only in the comeback offer's strength it covered 62 of 72 revenue cells on seeds 1-12, every miss
an estimate above the truth (the few largest earners fall out of a small held-out arm; the forks' expected
revenue, pooled over eight programs, equals the realised one, 64-71% of rows realising less than their
expectation). A failure of the revenue test after a change to the generator is that, before it is anything
else: look at which side the misses are on. The comeback offer's silence estimates run below the truth
(mean z -0.82 over seeds 1-12), not on 100,000 partners; not resolved (docs/effects.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import load_program
from partner_churn.config import Config
from retention.effect_rows import action_rows
from retention.effects import ALL, estimate_effects
from synthetic.action_truth import ActionTruthSettings
from synthetic.program import generate_program, write_program

SEEDS = tuple(range(1, 9))
PARTNERS = 5_000
MONTHS = 18
SETTINGS = ActionTruthSettings()
CONFIG = Config()
COVERAGE = 0.90
"""The issue's bar: the 95% intervals cover the truth in at least this share of the cells with enough data."""
MIN_CELLS = 40
"""Fewer cells than this and "90%" would be about too few to mean anything."""
LARGE = 1.0
"""A true effect is large when it exceeds this many half-widths of its cell's interval: an interval centred
on it would exclude zero. Twice the half-width, as first proposed, holds no silence cell at these sizes
(the largest, the onboarding call's, is 1.7-1.9 half-widths), so that check would be empty."""
KEY = ["partner_id", "ts", "action"]
OUTCOMES = {"silent": ("silent_if_treated", "silent_if_held_out"), "revenue": ("revenue_if_treated", "revenue_if_held_out")}


def measured(seed: int, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The effects table of one generated program as the command computes it, and its action rows joined with
    the truth (columns of `action_rows` plus TRUTH_COLUMNS)."""
    program = generate_program(PARTNERS, MONTHS, seed=seed, action_truth=SETTINGS)
    truth = program.action_truth
    assert truth is not None and len(truth) == len(program.actions)
    assert truth[KEY].equals(program.actions[KEY])  # one truth row per logged action, in the log's order
    write_program(program, folder)
    loaded = load_program(folder, CONFIG.data, program.end)
    assert loaded.actions is not None
    cutoff = loaded.events["ts"].max().floor("D") + pd.Timedelta(days=1)  # the command's default
    rows = action_rows(loaded.partners, loaded.events, loaded.actions, cutoff, CONFIG)
    table = estimate_effects(rows, CONFIG.effects)
    truth = pd.read_parquet(folder / "action_truth.parquet").assign(ts=lambda t: t["ts"].astype(rows["ts"].dtype))
    joined = rows.merge(truth, on=KEY, how="left", validate="one_to_one", indicator=True)
    assert (joined.pop("_merge") == "both").all()
    return table, joined


def cell_truth(rows: pd.DataFrame) -> dict[str, float]:
    """The true effect over `rows` (both arms) and its Monte Carlo standard error, per outcome."""
    r = SETTINGS.replicates
    arm = rows["holdout"].astype(bool).to_numpy()
    out: dict[str, float] = {}
    for outcome, (treated, held) in OUTCOMES.items():
        out[f"{outcome}_truth"] = float((rows[treated] - rows[held]).mean())
        if outcome == "silent":  # each arm's copies are r Bernoulli draws: p(1 - p) / (r - 1) estimates the variance of their mean
            spread = rows[treated] * (1 - rows[treated]) + rows[held] * (1 - rows[held])
            out[f"{outcome}_truth_se"] = float(np.sqrt(spread.sum() / (r - 1)) / len(rows))
        else:
            realised = rows["revenue"]
            bound = realised[~arm].var(ddof=1) + realised[arm].var(ddof=1)
            out[f"{outcome}_truth_se"] = float(np.sqrt(bound / (r * len(rows))))
    return out


def series_after_call(joined: pd.DataFrame) -> dict[str, float]:
    """What the onboarding series adds to the log's comparison of the onboarding call and not to its truth: per
    call arm, the mean over the call's measured rows of the series' true effect where a contacted series
    follows within the call's horizon (0 elsewhere); treated minus held out. The series' truth covers its own
    30 days, of which only part fall in the call's, so this overstates the difference."""
    horizon = pd.Timedelta(days=CONFIG.labels.horizon_days)
    calls = joined[(joined["action"] == "onboarding_call") & joined["holdout"].notna() & joined["silent"].notna()]
    series = joined[(joined["action"] == "onboarding_series") & ~joined["holdout"].fillna(True).astype(bool)]
    series = series.assign(
        silent_series=series["silent_if_treated"] - series["silent_if_held_out"],
        revenue_series=series["revenue_if_treated"] - series["revenue_if_held_out"],
    )
    pairs = (
        calls[["partner_id", "day"]]
        .reset_index(names="call")
        .merge(series[["partner_id", "day", "silent_series", "revenue_series"]].rename(columns={"day": "series_day"}), on="partner_id")
    )
    pairs = pairs[(pairs["series_day"] >= pairs["day"]) & (pairs["series_day"] < pairs["day"] + horizon)]
    arm = calls["holdout"].astype(bool)
    out = {}
    for outcome in OUTCOMES:
        added = pairs.groupby("call")[f"{outcome}_series"].sum().reindex(calls.index, fill_value=0.0)
        out[outcome] = float(added[~arm].mean() - added[arm].mean())
    return out


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, list[dict[str, float]]]:
    """Every cell with enough data of the eight programs, with its estimate, interval and truth; and per program
    what the series adds to the onboarding call's comparison."""
    cells, series = [], []
    for seed in SEEDS:
        table, joined = measured(seed, tmp_path_factory.mktemp(f"truth-{seed}"))
        used = joined[joined["holdout"].notna() & joined["silent"].notna()]
        series.append(series_after_call(joined))
        for _, cell in table.iterrows():
            if cell["risk_band"] != ALL or cell["silent_verdict"] in ("too few rows", "no holdout"):
                continue
            rows = used[(used["action"] == cell["action"]) & ((used["segment"] == cell["segment"]) | (cell["segment"] == ALL))]
            assert len(rows) == cell["n_treated"] + cell["n_holdout"]  # the same rows as the estimate
            cells.append({"seed": seed, **cell.to_dict(), **cell_truth(rows)})
    frame = pd.DataFrame(cells)
    parts = frame[frame["segment"] != ALL][["seed", "action", "n_treated", "n_holdout"]]
    repeated = frame[["seed", "action", "n_treated", "n_holdout"]].merge(parts, how="left", indicator=True)["_merge"] == "both"
    frame = frame[~((frame["segment"] == ALL) & repeated.to_numpy())].reset_index(drop=True)  # an `all` row that is one segment's row
    return frame, series


def covered(cells: pd.DataFrame, outcome: str) -> pd.Series:
    return (cells[f"{outcome}_low"] <= cells[f"{outcome}_truth"]) & (cells[f"{outcome}_truth"] <= cells[f"{outcome}_high"])


def describe_misses(cells: pd.DataFrame, outcome: str) -> str:
    missed = cells[~covered(cells, outcome)]
    columns = ["seed", "action", "segment", "n_treated", "n_holdout", f"{outcome}_effect", f"{outcome}_low", f"{outcome}_high", f"{outcome}_truth"]
    return f"{len(missed)} of {len(cells)} cells missed:\n{missed[columns].to_string(index=False)}"


def test_enough_cells(comparison: tuple[pd.DataFrame, list[dict[str, float]]]) -> None:
    cells, _ = comparison
    assert len(cells) >= MIN_CELLS, cells[["seed", "action", "segment"]]
    assert set(cells["action"]) == {"onboarding_call", "onboarding_series", "personal_check_in", "reactivation_offer"}


def test_silence_intervals_cover_the_truth(comparison: tuple[pd.DataFrame, list[dict[str, float]]]) -> None:
    cells, _ = comparison
    assert covered(cells, "silent").mean() >= COVERAGE, describe_misses(cells, "silent")


def test_revenue_intervals_cover_the_truth(comparison: tuple[pd.DataFrame, list[dict[str, float]]]) -> None:
    cells, _ = comparison
    assert covered(cells, "revenue").mean() >= COVERAGE, describe_misses(cells, "revenue")


@pytest.mark.parametrize("outcome", ["silent", "revenue"])
def test_sign_is_right_where_the_true_effect_is_large(comparison: tuple[pd.DataFrame, list[dict[str, float]]], outcome: str) -> None:
    cells, _ = comparison
    half = (cells[f"{outcome}_high"] - cells[f"{outcome}_low"]) / 2
    large = cells[cells[f"{outcome}_truth"].abs() > LARGE * half]
    assert len(large) >= 4  # the check holds something: onboarding calls, check-ins
    assert (np.sign(large[f"{outcome}_effect"]) == np.sign(large[f"{outcome}_truth"])).all(), large
    good = "lower" if outcome == "silent" else "higher"
    opposite = np.where((cells[f"{outcome}_truth"] < 0) == (good == "lower"), "harms", "works")
    assert not ((cells[f"{outcome}_truth"].abs() > LARGE * half) & (cells[f"{outcome}_verdict"] == opposite)).any()


@pytest.mark.parametrize("outcome", ["silent", "revenue"])
def test_every_claimed_verdict_has_the_truth_on_its_side(comparison: tuple[pd.DataFrame, list[dict[str, float]]], outcome: str) -> None:
    """A `works` or `harms` is a claim a manager acts on: wherever one is made, the true effect has that sign."""
    cells, _ = comparison
    claimed = cells[cells[f"{outcome}_verdict"].isin(["works", "harms"])]
    assert len(claimed) >= 4, cells[f"{outcome}_verdict"].value_counts()
    better = claimed[f"{outcome}_truth"] < 0 if outcome == "silent" else claimed[f"{outcome}_truth"] > 0
    assert (better == (claimed[f"{outcome}_verdict"] == "works")).all(), claimed


def test_truths_own_noise_is_negligible(comparison: tuple[pd.DataFrame, list[dict[str, float]]]) -> None:
    cells, _ = comparison
    for outcome in OUTCOMES:
        estimate_se = (cells[f"{outcome}_high"] - cells[f"{outcome}_low"]) / (2 * 1.96)
        assert (cells[f"{outcome}_truth_se"] < 0.25 * estimate_se).all(), cells[[f"{outcome}_truth_se"]].assign(estimate_se=estimate_se)


def test_onboarding_call_truth_is_comparable(comparison: tuple[pd.DataFrame, list[dict[str, float]]]) -> None:
    """The series after a call moves the call's comparison by far less than its interval's half-width: pooled
    over the programs under a tenth of it for silence, a third for revenue (an overstatement: the series'
    truth covers its own 30 days)."""
    cells, series = comparison
    calls = cells[cells["action"] == "onboarding_call"]
    for outcome, share in (("silent", 0.1), ("revenue", 1 / 3)):
        half = float(((calls[f"{outcome}_high"] - calls[f"{outcome}_low"]) / 2).mean())
        added = float(np.mean([s[outcome] for s in series]))
        assert abs(added) < share * half, (outcome, added, half)
