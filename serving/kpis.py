"""The figures program owners track (the design's "What owners track"), now and over the last months:
active partners, partner churn rate, revenue from existing partners and its change, partner LTV and its
share at risk, partner satisfaction (NPS), time to first result.

The figures the events decide (all but LTV, and NPS per segment) are recomputed at each trend cutoff
(`trend_cutoffs`: the cutoff and every TREND_STEP_DAYS back, TREND_STEPS times), so a program scored for
the first time has its trend too. The figures that need the models' view (LTV; NPS per segment, which
needs each partner's segment then) come at earlier cutoffs from the score history: the scoring nearest
each trend cutoff, within TREND_TOLERANCE_DAYS (NaN where there is none): its risks and segments. Every
point's LTV applies the pace growth measured at `as_of` (`scoring.ltv.pace_growth`), so a trend moves with
the partners, not with a growth factor that a band reached its minimum of partners between two dates.

Pure: contract-shaped frames, the scoring's frame and the history's entries in, `OwnerKpis` out; the
report shows them, `kpis_json` is what `partner-churn score` writes beside it, the summary prints them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.events import EventArrays
from features.segments import SEGMENTS
from features.summary import net_promoter_scores
from partner_churn.config import Config
from partner_churn.domain import SURVEY_WINDOW_DAYS, utc
from scoring.ltv import NO_GROWTH, GrowthPart, PaceGrowth, ProgramLtv, combine_growth, growth_part, program_ltv

REVENUE_WINDOW_DAYS = 30
"""Window of the existing-partner revenue KPI; the change compares it with the window before."""
FIRST_RESULT_WINDOW_DAYS = 90
"""Time to first result counts partners whose first sale fell in this many days before the cutoff."""
TREND_STEP_DAYS = 30
"""A trend's points are this many days apart: "a month earlier" is one step back."""
TREND_STEPS = 6
"""Steps back from the cutoff in a trend (its chart): half a year."""
MONTH_AGO, THREE_MONTHS_AGO = 1, 3
"""The steps back the report's cards and kpis.json compare with."""
TREND_TOLERANCE_DAYS = 7
"""A scoring in the history stands for a trend cutoff this many days away or closer."""

EVENT_KPI_KEYS = (
    "partners",
    "active_partners",
    "active_partners_before",
    "churned_partners",
    "partner_churn_rate",
    "existing_partner_revenue",
    "existing_partner_revenue_previous",
    "existing_partner_revenue_change",
    "first_results",
    "days_to_first_result",
    "nps",
    "nps_answers",
)
"""The figures the events (and survey answers) decide at any cutoff; counts are floats too, so a row is one type."""
LTV_KPI_KEYS = ("partner_ltv", "ltv_at_risk", "ltv_at_risk_share")
"""The figures a scoring decides: the program's LTV over `scoring.ltv_horizon_months`, what deactivation is
expected to take of it (`scoring.ltv`), and that as a share of the revenue at today's pace."""
KPI_KEYS = EVENT_KPI_KEYS + LTV_KPI_KEYS
HEADLINE_KPIS = ("active_partners", "partner_churn_rate", "existing_partner_revenue_change", "partner_ltv", "nps", "days_to_first_result")
"""The owner's figures, in the order the report and the summary show them."""


@dataclass(frozen=True)
class OwnerKpis:
    """The owner's figures at `as_of` with their trend."""

    as_of: pd.Timestamp
    trend: pd.DataFrame
    """Index: `trend_cutoffs` (oldest first, `as_of` last); columns KPI_KEYS (NaN where undecided)."""
    ltv: ProgramLtv | None
    """LTV by segment and sign-up cohort at `as_of`; None when the risk model did not score."""
    nps_by_segment: pd.DataFrame | None
    """Index: trend cutoffs; columns `all` and SEGMENTS (NaN where no answer, or no scoring for the
    segments); None when the program has no surveys."""
    ltv_horizon_months: int

    def value(self, key: str, steps_back: int = 0) -> float:
        return float(self.trend[key].iloc[-1 - steps_back]) if steps_back < len(self.trend) else math.nan

    @property
    def kpis(self) -> dict[str, float]:
        """The figures at `as_of`, key -> value."""
        return {key: self.value(key) for key in KPI_KEYS}


def trend_cutoffs(as_of: pd.Timestamp) -> list[pd.Timestamp]:
    """The cutoff and TREND_STEPS earlier ones TREND_STEP_DAYS apart, oldest first."""
    as_of = utc(as_of)
    return [as_of - pd.Timedelta(days=TREND_STEP_DAYS * k) for k in range(TREND_STEPS, -1, -1)]


@dataclass(frozen=True)
class KpiPart:
    """What one frame of whole partners (the program, or one partition of it) adds to the owner KPIs at the
    trend cutoffs of `as_of`: the event figures' counts and sums, the days to first sales, the pace growth's
    sums, the partners' sign-ups and their survey answers."""

    figures: np.ndarray
    """Per trend cutoff: PART_FIGURES."""
    days_to_first: list[np.ndarray]
    """Per trend cutoff: days from sign-up to the first sale of the partners whose first sale fell in FIRST_RESULT_WINDOW_DAYS."""
    growth: GrowthPart | None
    """None: not measured (no LTV asked for)."""
    signup: pd.Series
    """partner_id (str) -> sign-up time."""
    surveys: pd.DataFrame | None


PART_FIGURES = (
    "partners",
    "active_partners",
    "active_partners_before",
    "churned_partners",
    "existing_partner_revenue",
    "existing_partner_revenue_previous",
    "existing_partner_revenue_same",
)
"""The additive figures a part carries: counts, and sums of sale amounts (the last: revenue now of partners
signed up before the earlier window, what the change compares)."""


@dataclass(frozen=True)
class EventFacts:
    """The owner KPIs' view of the program's events: the event figures at each trend cutoff, the pace growth at
    `as_of`, every partner's sign-up, the survey answers."""

    trend: pd.DataFrame
    growth: PaceGrowth
    signup: pd.Series
    surveys: pd.DataFrame | None


def owner_kpis(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    as_of: pd.Timestamp,
    config: Config,
    scored: pd.DataFrame | None,
    *,
    surveys: pd.DataFrame | None = None,
    earlier: Mapping[pd.Timestamp, pd.DataFrame] | None = None,
) -> OwnerKpis:
    """The owner's figures at `as_of` and at the trend cutoffs before it.

    `scored` is the scoring's frame at `as_of` (partner_id, segment, days_since_last_activity,
    deactivation_risk, expected_revenue; None: no scoring now, e.g. the summary's); `earlier` maps trend
    cutoffs (`as_of` too, when `scored` is None) to the score history's entry standing for them
    (`serving.history.scorings_near`; same columns), missing ones undecided.
    """
    with_growth = scored is not None or bool(earlier)  # the LTV's pace growth: only where there is an LTV to compute
    facts = combine_kpi_parts([kpi_part(partners, events, as_of, config, surveys=surveys, growth=with_growth)], as_of, config)
    return kpis_of(facts, as_of, config, scored, earlier=earlier)


def kpi_part(
    partners: pd.DataFrame, events: pd.DataFrame, as_of: pd.Timestamp, config: Config, *, surveys: pd.DataFrame | None = None, growth: bool = True
) -> KpiPart:
    """These partners' part of the owner KPIs at the trend cutoffs of `as_of` (without `growth`, no pace growth)."""
    arrays = EventArrays.of(partners, events, config)  # once: every figure of every cutoff reads them
    figures, days_to_first = _event_figures(arrays, trend_cutoffs(utc(as_of)), config)
    answers = None if surveys is None else surveys.assign(partner_id=surveys["partner_id"].astype(str))
    grown = growth_part(arrays, utc(as_of), config) if growth else None
    return KpiPart(figures, days_to_first, grown, pd.Series(arrays.signup, index=arrays.ids), answers)


def combine_kpi_parts(parts: Sequence[KpiPart], as_of: pd.Timestamp, config: Config) -> EventFacts:
    """The program's `EventFacts` from the parts of all its partners."""
    cutoffs = trend_cutoffs(utc(as_of))
    surveys = [part.surveys for part in parts if part.surveys is not None]
    answers = pd.concat(surveys, ignore_index=True) if surveys else None
    trend = _trend(
        np.sum([part.figures for part in parts], axis=0),
        [np.concatenate([part.days_to_first[i] for part in parts]) for i in range(len(cutoffs))],
        cutoffs,
        answers,
    )
    signup = pd.concat([part.signup for part in parts]) if len(parts) > 1 else parts[0].signup
    grown = [part.growth for part in parts if part.growth is not None]
    growth = combine_growth(grown, utc(as_of), config) if len(grown) == len(parts) else NO_GROWTH
    return EventFacts(trend, growth, signup, answers)


def kpis_of(
    facts: EventFacts, as_of: pd.Timestamp, config: Config, scored: pd.DataFrame | None, *, earlier: Mapping[pd.Timestamp, pd.DataFrame] | None = None
) -> OwnerKpis:
    """`owner_kpis` from the program's `EventFacts` (`combine_kpi_parts`; the dask engine combines a part per partition)."""
    as_of = utc(as_of)
    cutoffs = trend_cutoffs(as_of)
    trend, growth, signup, surveys = facts.trend.copy(), facts.growth, facts.signup, facts.surveys
    views = {utc(k): v for k, v in (earlier or {}).items()}
    if scored is not None:
        views[as_of] = scored
    ltv_now: ProgramLtv | None = None
    nps_rows: dict[pd.Timestamp, dict[str, float]] = {}
    for cutoff in cutoffs:
        view = views.get(cutoff)
        if view is None or not len(view):
            continue
        ltv = program_ltv(view, signup, cutoff, config, growth)  # one pace growth for every point of the trend
        at_pace = ltv.at_pace
        trend.loc[cutoff, list(LTV_KPI_KEYS)] = [ltv.ltv, ltv.ltv_at_risk, ltv.ltv_at_risk / at_pace if at_pace > 0 else math.nan]
        if cutoff == as_of and not math.isnan(ltv.ltv):
            ltv_now = ltv
        if surveys is not None and len(surveys):
            nps = net_promoter_scores(surveys, view.set_index(view["partner_id"].astype(str))["segment"], cutoff)
            nps_rows[cutoff] = nps["nps"].to_dict()
    nps_by_segment = None
    if surveys is not None and len(surveys):
        nps_by_segment = pd.DataFrame.from_dict(nps_rows, orient="index").reindex(pd.DatetimeIndex(cutoffs), columns=["all", *SEGMENTS])
        nps_by_segment["all"] = trend["nps"]  # the program's NPS needs no segments: every cutoff has it
    return OwnerKpis(as_of=as_of, trend=trend, ltv=ltv_now, nps_by_segment=nps_by_segment, ltv_horizon_months=config.scoring.ltv_horizon_months)


def event_kpis(events: EventArrays, cutoffs: Sequence[pd.Timestamp], config: Config, *, surveys: pd.DataFrame | None = None) -> pd.DataFrame:
    """EVENT_KPI_KEYS at each cutoff (rows in the order given), from the program's events; LTV_KPI_KEYS NaN.

    Active partners have a qualifying event in the active window before the cutoff (the feature pipeline's
    `active_mask`, so the report agrees with the risk list); churned ones had one in the window before and
    none since. Rates and medians are NaN when their base is empty, NPS when no partner answered in the
    SURVEY_WINDOW_DAYS before the cutoff (or the program has no surveys).
    """
    stamps = list(map(utc, cutoffs))
    figures, days_to_first = _event_figures(events, stamps, config)
    return _trend(figures, days_to_first, stamps, surveys)


def _event_figures(events: EventArrays, cutoffs: Sequence[pd.Timestamp], config: Config) -> tuple[np.ndarray, list[np.ndarray]]:
    """PART_FIGURES and the days to first results at each cutoff."""
    window = pd.Timedelta(days=config.labels.active_window_days)
    signup = events.signup
    sale_code, sale_ts, sale_amount = events.code[events.sale], events.ts[events.sale], events.amount[events.sale]
    first_sale = pd.Series(sale_ts, index=sale_code).groupby(level=0).min()
    revenue_window = pd.Timedelta(days=REVENUE_WINDOW_DAYS)
    figures, days = [], []
    for cutoff in cutoffs:
        active_now = events.active_between(cutoff - window, cutoff)
        active_then = events.active_between(cutoff - 2 * window, cutoff - window)
        figures.append(
            [
                float((signup < cutoff).sum()),
                float(active_now.sum()),
                float(active_then.sum()),
                float((active_then & ~active_now).sum()),
                _existing_revenue(sale_code, sale_ts, sale_amount, signup, cutoff, revenue_window),
                _existing_revenue(sale_code, sale_ts, sale_amount, signup, cutoff - revenue_window, revenue_window),
                # growth compares one population: partners signed up before the earlier window, in both windows
                _existing_revenue(sale_code, sale_ts, sale_amount, signup, cutoff, revenue_window, signed_up_before=cutoff - 2 * revenue_window),
            ]
        )
        recent = first_sale[(first_sale < cutoff) & (first_sale >= cutoff - pd.Timedelta(days=FIRST_RESULT_WINDOW_DAYS))]
        days.append(np.asarray((pd.DatetimeIndex(recent) - signup[recent.index.to_numpy()]) / pd.Timedelta(days=1), dtype=float))
    return np.array(figures, dtype=float).reshape(len(cutoffs), len(PART_FIGURES)), days


def _trend(figures: np.ndarray, days_to_first: list[np.ndarray], cutoffs: Sequence[pd.Timestamp], surveys: pd.DataFrame | None) -> pd.DataFrame:
    """The KPI frame from PART_FIGURES and the days to first results at each cutoff."""
    rows = []
    for cutoff, values, days in zip(cutoffs, figures, days_to_first):
        partners, active, before, churned, revenue_now, revenue_before, same_now = values
        nps, answers = _program_nps(surveys, cutoff)
        rows.append(
            {
                "partners": partners,
                "active_partners": active,
                "active_partners_before": before,
                "churned_partners": churned,
                "partner_churn_rate": churned / before if before else math.nan,
                "existing_partner_revenue": revenue_now,
                "existing_partner_revenue_previous": revenue_before,
                "existing_partner_revenue_change": same_now / revenue_before - 1.0 if revenue_before > 0 else math.nan,
                "first_results": float(len(days)),
                "days_to_first_result": float(np.median(days)) if len(days) else math.nan,
                "nps": nps,
                "nps_answers": answers,
                **dict.fromkeys(LTV_KPI_KEYS, math.nan),
            }
        )
    frame = pd.DataFrame(rows, index=pd.DatetimeIndex(list(cutoffs)), columns=list(KPI_KEYS), dtype=float)
    frame.loc[frame["partners"] == 0, [k for k in EVENT_KPI_KEYS if k != "partners"]] = math.nan  # before the program: undecided, not 0
    return frame


def _program_nps(surveys: pd.DataFrame | None, cutoff: pd.Timestamp) -> tuple[float, float]:
    if surveys is None or not len(surveys):
        return math.nan, math.nan
    row = net_promoter_scores(surveys, pd.Series(dtype=object), cutoff).loc["all"]
    return float(row["nps"]), float(row["answers"])


def _existing_revenue(
    code: np.ndarray,
    ts: pd.DatetimeIndex,
    amount: np.ndarray,
    signup: pd.DatetimeIndex,
    end: pd.Timestamp,
    window: pd.Timedelta,
    *,
    signed_up_before: pd.Timestamp | None = None,
) -> float:
    """Sale revenue in [end - window, end) from partners signed up before `signed_up_before` (default end - window)."""
    start = end - window
    inside = (ts >= start) & (ts < end) & (signup[code] < (start if signed_up_before is None else signed_up_before))
    return float(amount[inside].sum())


def kpis_json(kpis: OwnerKpis) -> dict[str, Any]:
    """The owner's figures as kpis.json holds them: each KPI now, a month and three months earlier, and its
    trend; LTV by segment and cohort; NPS per segment over time. Undecided figures are null."""

    def number(value: Any) -> float | None:
        value = float(value)
        return None if math.isnan(value) else value

    def dated(series: pd.Series) -> list[dict[str, Any]]:
        return [{"as_of": cutoff.isoformat(), "value": number(value)} for cutoff, value in series.items()]

    figures = {
        key: {
            "value": kpis.value(key),
            "month_ago": kpis.value(key, MONTH_AGO),
            "three_months_ago": kpis.value(key, THREE_MONTHS_AGO),
            "trend": dated(kpis.trend[key]),
        }
        for key in KPI_KEYS
    }
    for figure in figures.values():
        for name in ("value", "month_ago", "three_months_ago"):
            figure[name] = number(figure[name])

    def table(frame: pd.DataFrame) -> list[dict[str, Any]]:
        return [{"group": str(group), **{c: number(v) for c, v in row.items()}} for group, row in frame.iterrows()]

    return {
        "as_of": kpis.as_of.isoformat(),
        "trend_step_days": TREND_STEP_DAYS,
        "ltv_horizon_months": kpis.ltv_horizon_months,
        "nps_window_days": SURVEY_WINDOW_DAYS,
        "kpis": figures,
        "ltv_by_segment": table(kpis.ltv.by_segment) if kpis.ltv is not None else None,
        "ltv_by_cohort": table(kpis.ltv.by_cohort) if kpis.ltv is not None else None,
        "ltv_pace_growth": None
        if kpis.ltv is None
        else {
            "measured_at": kpis.ltv.growth.measured_at.isoformat() if kpis.ltv.growth.measured_at is not None else None,
            "factors": dict(kpis.ltv.growth.factors),
            "partners": dict(kpis.ltv.growth.partners),
        },
        "nps_by_segment": None
        if kpis.nps_by_segment is None
        else {group: dated(kpis.nps_by_segment[group]) for group in kpis.nps_by_segment.columns},
    }


_TEXT_FORMATS = {
    "active_partners": ("active partners", "{:,.0f}"),
    "partner_churn_rate": ("partner churn rate", "{:.1%}"),
    "existing_partner_revenue_change": ("existing-partner revenue growth", "{:+.1%}"),
    "partner_ltv": ("partner LTV", "{:,.0f}"),
    "nps": ("partner NPS", "{:+.0f}"),
    "days_to_first_result": ("days to first result", "{:.1f}"),
}


def format_kpis(kpis: OwnerKpis) -> str:
    """The headline figures for the terminal: now, a month and three months earlier (`-`: undecided)."""

    def shown(key: str, steps_back: int) -> str:
        value = kpis.value(key, steps_back)
        if math.isnan(value):
            return "-"
        return _TEXT_FORMATS[key][1].format(round(value) + 0 if key == "nps" else value)  # NPS -0.4 is +0, as the report says

    lines = [f"  {'owner KPIs:':<34}{'now':>14}{'a month ago':>14}{'3 months ago':>14}"]
    for key in HEADLINE_KPIS:
        lines.append(f"    {_TEXT_FORMATS[key][0]:<32}" + "".join(f"{shown(key, back):>14}" for back in (0, MONTH_AGO, THREE_MONTHS_AGO)))
    if math.isnan(kpis.value("partner_ltv")):
        lines.append(f"    (LTV over {kpis.ltv_horizon_months} months comes from a scoring of the date: partner-churn score --as-of DATE)")
    else:
        lines.append(f"    (LTV over {kpis.ltv_horizon_months} months, from the score history; {kpis.value('ltv_at_risk'):,.0f} of it at risk)")
    return "\n".join(lines) + "\n"
