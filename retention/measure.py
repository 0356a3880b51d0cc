"""What the action log measured, as one unit the scoring can use: per action, an uplift model judged out of
time, the segments its effect was measured in, and what the partners it kept brought in.

For each logged action with enough rows in both arms (`training.uplift.MIN_ARM_ROWS`), the per-partner
uplift model (`training.uplift`) learns from the action's earlier rows and is judged on its latest
`effects.uplift_test_share` of rows by time; an action whose Qini coefficient's 95% bootstrap interval lies
above zero beats random targeting, and only such an action is refitted on all its rows and kept. The
segments it may be proposed in are those of the effects table where its effect on silence could be
estimated (neither `too few rows` nor `no holdout`). Pure: rows and the effects table in, `MeasuredActions`
and the evaluations out; the command logs and registers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import pandas as pd

from features.schema import feature_schema
from partner_churn.config import Config
from partner_churn.domain import segment_revenue_feature
from partner_churn.errors import InputError
from retention.effects import ALL
from retention.power import ROWS_FACTOR_SHOWN, qini_rows_needed, shown_rows_factor
from training.uplift import KEPT, MIN_ARM_ROWS, MeasuredActions, UpliftEvaluation, evaluate_out_of_time, fit_action_uplift

NOT_ESTIMATED = ("too few rows", "no holdout")


def uplift_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows an uplift model learns from: an outcome observed, the arm known; `kept` = not silent."""
    usable = rows[rows["silent"].notna() & rows["holdout"].notna()].copy()
    usable[KEPT] = 1.0 - usable["silent"].astype(float)
    usable["holdout"] = usable["holdout"].astype(bool)
    return usable


def measure_actions(rows: pd.DataFrame, effects: pd.DataFrame, config: Config) -> tuple[MeasuredActions, list[UpliftEvaluation], list[str]]:
    """The measured actions (those whose uplift beats random out of time), every evaluation, and a line per
    action that could not be judged (why)."""
    features = [spec.name for spec in feature_schema(config)]
    categorical = [spec.name for spec in feature_schema(config) if spec.kind == "category"]
    missing = [name for name in features if name not in rows]
    if missing:
        raise InputError(f"action rows lack {len(missing)} features (e.g. {missing[:3]}): build them with with_features=True")
    usable = uplift_rows(rows)
    models, segments, revenue_if_kept = {}, {}, {}
    evaluations: list[UpliftEvaluation] = []
    skipped: list[str] = []
    seed = config.training.seed
    for action, group in usable.groupby("action", sort=True):
        code = str(action)
        arms = group["holdout"].value_counts()
        if min(int(arms.get(True, 0)), int(arms.get(False, 0))) < 2 * MIN_ARM_ROWS:
            skipped.append(
                f"{code}: {int(arms.get(False, 0)):,} contacted and {int(arms.get(True, 0)):,} held out with an outcome: too few to learn and judge an uplift model"
            )
            continue
        split = pd.Timestamp(pd.to_datetime(group["ts"], utc=True).quantile(1 - config.effects.uplift_test_share))
        try:
            evaluation = evaluate_out_of_time(group, code, features, categorical, split=split, seed=seed, horizon_days=config.labels.horizon_days)
        except InputError as exc:
            skipped.append(f"{code}: {exc}")
            continue
        evaluations.append(evaluation)
        if not evaluation.beats_random:
            continue
        models[code] = fit_action_uplift(group, code, features, categorical, seed=seed)
        measured = effects[(effects["action"] == code) & (effects["risk_band"] == ALL) & (effects["segment"] != ALL)]
        segments[code] = measured.loc[~measured["silent_verdict"].isin(NOT_ESTIMATED), "segment"].astype(str).tolist()
        # What a kept partner with no revenue of its own yet brought in: the revenue at stake of such a partner.
        no_revenue_yet = group[segment_revenue_feature(config)].fillna(0.0) <= 0
        kept_from_nothing = group[~group["holdout"] & (group[KEPT] == 1.0) & no_revenue_yet]
        revenue_if_kept[code] = {
            str(s): float(rows_of["revenue"].mean()) for s, rows_of in kept_from_nothing.groupby("segment") if len(rows_of) >= MIN_ARM_ROWS
        }
    through = pd.Timestamp(usable["ts"].max()).isoformat() if len(usable) else ""
    measured_actions = MeasuredActions(
        models=models,
        segments=segments,
        revenue_if_kept=revenue_if_kept,
        effects=effects,
        evaluations=[evaluation_record(e) for e in evaluations],
        measured_through=through,
    )
    return measured_actions, evaluations, skipped


def evaluation_record(evaluation: UpliftEvaluation) -> dict[str, object]:
    """An evaluation as plain JSON values (uplift at k% keyed by the share as text)."""
    record = asdict(evaluation)
    record["uplift_at"] = {f"{share:g}": value for share, value in evaluation.uplift_at.items()}
    record["beats_random"] = evaluation.beats_random
    record["rows_to_beat_random"] = rows_to_beat_random(evaluation)
    return record


def rows_to_beat_random(evaluation: UpliftEvaluation) -> int | None:
    """For an action whose model does not beat random targeting but whose Qini is above 0: the test rows at which
    a Qini this size would beat it 8 times in 10 (`retention.power.qini_rows_needed`); None otherwise."""
    return qini_rows_needed(evaluation.qini, evaluation.qini_low, evaluation.qini_high, test_rows_total(evaluation.test_rows))


def test_rows_total(test_rows: Mapping[str, Any]) -> int:
    """Contacted plus held-out test rows of an evaluation (or of its record read back)."""
    return int(test_rows.get("contacted") or 0) + int(test_rows.get("held_out") or 0)


def format_evaluations(evaluations: list[UpliftEvaluation], skipped: list[str]) -> str:
    """The uplift models' out-of-time judgement, a line per action: Qini with its interval, uplift in the top
    tenth and third against the average effect, and whether it beats random targeting."""
    if not evaluations and not skipped:
        return "no action to fit an uplift model for\n"
    lines = ["uplift models, judged on each action's latest rows (Qini coefficient, 0 = random targeting; effects on staying active):"]
    for e in evaluations:
        top10, top30 = e.uplift_at.get(0.1, float("nan")), e.uplift_at.get(0.3, float("nan"))
        lines.append(
            f"  {e.action}: Qini {e.qini:+.4f} [{e.qini_low:+.4f}, {e.qini_high:+.4f}] on {e.test_rows['contacted']:,} contacted and "
            f"{e.test_rows['held_out']:,} held out from {e.split[:10]}; top 10% {100 * top10:+.1f} pp, top 30% {100 * top30:+.1f} pp, "
            f"all {100 * e.effect:+.1f} pp: {'beats random targeting' if e.beats_random else 'does not beat random targeting'}"
            + _rows_needed_text(rows_to_beat_random(e), test_rows_total(e.test_rows))
        )
    lines += [f"  {line}" for line in skipped]
    return "\n".join(lines) + "\n"


def _rows_needed_text(needed: int | None, rows: int) -> str:
    if needed is None:
        return ""
    factor = shown_rows_factor(needed, rows)
    if factor is None:
        return f"; its Qini is too small to tell from random targeting (more than {ROWS_FACTOR_SHOWN} times these test rows would be needed)"
    return f"; if its Qini held, about {factor:.1f} times these test rows ({needed:,}) would show it beating random targeting 8 times in 10"
