"""The measured effect of each logged retention action: contacted against held out, with an interval and a
verdict in words.

The log's holdout is randomised: of the partners chosen for an action, some were deliberately not contacted.
So the difference between the two arms' outcomes over the horizon is the action's effect on the partners it
was given to, without a model: effect = contacted minus held out, on the rows of `effect_rows.action_rows`
whose horizon has passed. It is measured for each action, and within each segment and each risk band at the
action's time (a subgroup chosen before the action, so the comparison inside it stays randomised).

Verdicts, per outcome (silence: less is better; revenue: more is better):
- `works`: the interval excludes zero on the good side;
- `harms`: it excludes zero on the bad side;
- `no evidence`: it covers zero (no effect, or too little data to tell);
- `too few rows`: an arm has fewer than `effects.min_rows_per_arm` rows with an outcome;
- `no holdout`: the action was never held out (or the log has no holdout column): nothing to compare with, and
  no effect is claimed.
Rows whose holdout value is missing are in neither arm; they are counted (`n_unknown_arm`), as are rows whose
horizon has not passed (`n_no_outcome`). Every group is a test of its own: of twenty groups in which an action
does nothing, about one shows `works` or `harms` at 95% by chance, so a lone subgroup verdict against its
action's overall one is a lead to check on later data, not a finding.

Pure functions of frames; the command prints and writes the table.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from features.segments import SEGMENTS
from partner_churn.config import EffectsConfig
from partner_churn.domain import RISK_BANDS, UNAVAILABLE

Verdict = Literal["works", "harms", "no evidence", "too few rows", "no holdout"]
VERDICTS: tuple[Verdict, ...] = ("works", "harms", "no evidence", "too few rows", "no holdout")
ALL = "all"
"""The segment or risk band of a row that is not broken down by it."""
OUTCOMES: tuple[str, ...] = ("silent", "revenue")
"""Outcome columns of the rows: silence over the horizon (1/0), revenue over the horizon."""

EFFECT_COLUMNS: tuple[str, ...] = (
    "action",
    "segment",
    "risk_band",
    "n_treated",
    "n_holdout",
    "n_unknown_arm",
    "n_no_outcome",
    "silent_treated",
    "silent_holdout",
    "silent_effect",
    "silent_low",
    "silent_high",
    "silent_verdict",
    "revenue_treated",
    "revenue_holdout",
    "revenue_effect",
    "revenue_low",
    "revenue_high",
    "revenue_verdict",
    "message",
)
"""Columns of `estimate_effects`. Means per arm; effect = treated minus holdout; low / high bound the interval
at `effects.confidence`; silence as a share (0.05 = 5 percentage points), revenue in the program's money per
partner over the horizon."""


class Interval(NamedTuple):
    effect: float
    low: float
    high: float


def proportion_difference(successes_treated: int, n_treated: int, successes_holdout: int, n_holdout: int, *, confidence: float) -> Interval:
    """Difference of two proportions (treated minus holdout) with Newcombe's hybrid score interval.

    Newcombe's interval (statsmodels' `confint_proportions_2indep`, method 'newcomb') keeps its coverage near
    the nominal level for proportions near 0 or 1 and for unequal arms, where the textbook Wald interval is too
    narrow: an action's silence rate is often a few percent and its holdout a fifth of its rows.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(
        successes_treated, n_treated, successes_holdout, n_holdout, method="newcomb", compare="diff", alpha=1 - confidence
    )
    return Interval(successes_treated / n_treated - successes_holdout / n_holdout, float(low), float(high))


def mean_difference(treated: np.ndarray, holdout: np.ndarray, *, confidence: float) -> Interval:
    """Difference of two means (treated minus holdout) with Welch's t interval.

    Revenue is heavily skewed (most partners earn nothing over a horizon, a few earn most of it), and the two
    arms' spreads differ whenever the action moves revenue, so the pooled-variance t interval does not apply;
    Welch's uses each arm's own variance and the Welch-Satterthwaite degrees of freedom. With the rows per arm
    this module asks for, the difference of means is close to normal (central limit theorem); the t quantile
    instead of the normal one only widens the interval a little for small arms. A few very large partners in a
    small group can still make it optimistic: that is what the minimum rows per arm guard against. A bootstrap
    would cost more and say much the same at these sizes.
    """
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    treated, holdout = np.asarray(treated, dtype=float), np.asarray(holdout, dtype=float)
    effect = float(treated.mean() - holdout.mean())
    if treated.var() == 0 and holdout.var() == 0:  # every partner of each arm alike (e.g. no revenue at all): no spread
        return Interval(effect, effect, effect)
    low, high = CompareMeans(DescrStatsW(treated), DescrStatsW(holdout)).tconfint_diff(alpha=1 - confidence, usevar="unequal")
    return Interval(effect, float(low), float(high))


def verdict(interval: Interval, *, good: Literal["lower", "higher"]) -> Verdict:
    """`works` / `harms` when the interval excludes zero on the good / bad side, else `no evidence`."""
    if interval.high < 0:
        return "works" if good == "lower" else "harms"
    if interval.low > 0:
        return "works" if good == "higher" else "harms"
    return "no evidence"


def estimate_effects(rows: pd.DataFrame, config: EffectsConfig) -> pd.DataFrame:
    """EFFECT_COLUMNS per action (segment and risk band `all`), per action x segment at the action's time, and
    per action x risk band where a row has one; actions in alphabetical order, segments in SEGMENTS order, bands
    in RISK_BANDS order."""
    out = []
    has_band = "risk_band" in rows and rows["risk_band"].notna().any()
    for action, group in rows.groupby("action", sort=True):
        never_held_out = not bool(group["holdout"].fillna(False).any())
        out.append(_effect_row(group, str(action), ALL, ALL, config, never_held_out))
        for segment in _ordered(group["segment"], SEGMENTS):
            out.append(_effect_row(group[group["segment"] == segment], str(action), segment, ALL, config, never_held_out))
        if has_band:
            for band in _ordered(group["risk_band"].dropna(), (*RISK_BANDS, UNAVAILABLE)):
                out.append(_effect_row(group[group["risk_band"] == band], str(action), ALL, band, config, never_held_out))
    return pd.DataFrame(out, columns=list(EFFECT_COLUMNS))


def _ordered(values: pd.Series, order: tuple[str, ...]) -> list[str]:
    present = set(values.astype(str))
    return [v for v in order if v in present] + sorted(present - set(order))


def _effect_row(group: pd.DataFrame, action: str, segment: str, band: str, config: EffectsConfig, never_held_out: bool) -> dict[str, object]:
    holdout = group["holdout"].astype("boolean")
    known = holdout.notna().to_numpy()
    observed = group["silent"].notna().to_numpy()
    arm = holdout.fillna(False).to_numpy(dtype=bool)
    treated, held = group[known & observed & ~arm], group[known & observed & arm]
    row: dict[str, object] = {name: np.nan for name in EFFECT_COLUMNS}
    row |= {
        "action": action,
        "segment": segment,
        "risk_band": band,
        "n_treated": len(treated),
        "n_holdout": len(held),
        "n_unknown_arm": int((~known).sum()),
        "n_no_outcome": int((known & ~observed).sum()),
    }
    for outcome in OUTCOMES:
        row[f"{outcome}_treated"] = float(treated[outcome].mean()) if len(treated) else np.nan
        row[f"{outcome}_holdout"] = float(held[outcome].mean()) if len(held) else np.nan
    notes = []
    if row["n_unknown_arm"]:
        notes.append(f"{row['n_unknown_arm']:,} rows without a holdout value counted in neither arm")
    if row["n_no_outcome"]:
        notes.append(f"{row['n_no_outcome']:,} rows whose horizon has not passed")
    if never_held_out:
        row["silent_verdict"] = row["revenue_verdict"] = "no holdout"
        row["message"] = "; ".join(["logged without a holdout: nobody was held out, so no effect can be claimed", *notes])
        return row
    if min(len(treated), len(held)) < config.min_rows_per_arm:
        row["silent_verdict"] = row["revenue_verdict"] = "too few rows"
        notes.insert(0, f"fewer than {config.min_rows_per_arm} rows with an outcome in an arm (treated {len(treated):,}, holdout {len(held):,})")
        row["message"] = "; ".join(notes)
        return row
    silence = proportion_difference(int(treated["silent"].sum()), len(treated), int(held["silent"].sum()), len(held), confidence=config.confidence)
    revenue = mean_difference(treated["revenue"].to_numpy(), held["revenue"].to_numpy(), confidence=config.confidence)
    for outcome, interval, good in (("silent", silence, "lower"), ("revenue", revenue, "higher")):
        row[f"{outcome}_effect"], row[f"{outcome}_low"], row[f"{outcome}_high"] = interval
        row[f"{outcome}_verdict"] = verdict(interval, good=good)  # type: ignore[arg-type]
    row["message"] = "; ".join(notes)
    return row


def format_effects(effects: pd.DataFrame, confidence: float) -> str:
    """The table a manager reads: action, group, rows per arm, effect on silence in percentage points and on
    revenue, each with its interval, and the verdicts."""
    level = f"{confidence:.0%}"
    lines = []
    for _, r in effects.iterrows():
        group = r["segment"] if r["risk_band"] == ALL else f"risk {r['risk_band']}"
        if pd.isna(r["silent_effect"]):
            silence = revenue = "-"
        else:
            silence = f"{100 * r['silent_effect']:+.1f} pp [{100 * r['silent_low']:+.1f}, {100 * r['silent_high']:+.1f}]"
            revenue = f"{r['revenue_effect']:+,.0f} [{r['revenue_low']:+,.0f}, {r['revenue_high']:+,.0f}]"
        lines.append(
            {
                "action": r["action"],
                "group": group,
                "treated": f"{r['n_treated']:,}",
                "holdout": f"{r['n_holdout']:,}",
                f"silence, {level} CI": silence,
                "silence verdict": r["silent_verdict"],
                f"revenue, {level} CI": revenue,
                "revenue verdict": r["revenue_verdict"],
            }
        )
    table = pd.DataFrame(lines)
    if table.empty:
        return "no logged action to measure\n"
    text = table.to_string(index=False)
    notes = [
        f"  {r['action']} ({r['segment'] if r['risk_band'] == ALL else 'risk ' + r['risk_band']}): {r['message']}"
        for _, r in effects.iterrows()
        if r["message"]
    ]
    return text + "\n" + ("notes:\n" + "\n".join(notes) + "\n" if notes else "")
