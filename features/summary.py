"""Program summary at a cutoff: the figures a program owner tracks, from the validated contract tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.pipeline import build_features
from features.segments import SEGMENTS
from partner_churn.config import Config
from partner_churn.domain import DETRACTOR_SCORE, LAST_ACTIVITY, PROMOTER_SCORE, SURVEY_WINDOW_DAYS, active_mask, segment_revenue_feature

ACTIVATION_WINDOW_DAYS = 90
TOP_SHARE = 0.05


@dataclass(frozen=True)
class ProgramSummary:
    """Headline figures of a program at `as_of`."""

    as_of: pd.Timestamp
    partners: int
    first_event_at: pd.Timestamp | None
    last_event_at: pd.Timestamp | None
    events_by_type: pd.DataFrame
    """Per event type: events and total amount."""
    active_partners: int
    """Partners with a qualifying event in the active window before `as_of`."""
    in_play_partners: int
    """Partners with a qualifying event in the in-play window: the base of segment shares."""
    revenue_total: float
    revenue_30d: float
    top5_revenue_share: float
    """Share of the revenue window's revenue earned by the top 5% of in-play partners."""
    segment_mix: pd.DataFrame
    """Per segment: partners in play, their share, and share of window revenue."""
    activation_rate: float
    """Share of sign-ups at least 90 days old whose first sale came within 90 days of sign-up."""
    median_days_to_first_sale: float
    click_to_lead: float
    lead_to_sale: float
    nps: pd.DataFrame | None = None
    """Per segment at the cutoff and `all`: answers (partners with a survey answer in the last
    SURVEY_WINDOW_DAYS, their latest), promoters, detractors, nps; None when the program has no surveys."""


def summarize_program(
    partners: pd.DataFrame, events: pd.DataFrame, as_of: pd.Timestamp, config: Config, surveys: pd.DataFrame | None = None
) -> ProgramSummary:
    """Compute the summary from contract-shaped frames, with the feature pipeline's own definitions."""
    features = build_features(partners, events, [as_of], config, surveys=surveys)
    past = events[events["ts"] < as_of]
    by_type = past.groupby("event_type", observed=False)["amount"].agg(events="size", amount="sum").reindex(config.data.event_types, fill_value=0)
    silent = features[LAST_ACTIVITY]
    in_play = features[silent <= config.segments.in_play_window_days]
    window_revenue = in_play[segment_revenue_feature(config)].to_numpy()
    top_n = max(1, int(round(TOP_SHARE * len(in_play)))) if len(in_play) else 0
    top_share = _share(np.sort(window_revenue)[::-1][:top_n].sum(), window_revenue.sum())
    mix = (
        pd.DataFrame({"segment": in_play["segment"].to_numpy(), "revenue": window_revenue})
        .groupby("segment")["revenue"]
        .agg(partners="size", revenue="sum")
        .reindex(list(SEGMENTS), fill_value=0)
    )
    mix["share_of_partners"] = mix["partners"] / max(len(in_play), 1)
    mix["share_of_revenue"] = mix["revenue"] / window_revenue.sum() if window_revenue.sum() > 0 else 0.0

    mature = features[features["tenure_days"] >= ACTIVATION_WINDOW_DAYS]
    activated = mature["days_to_first_sale"] < ACTIVATION_WINDOW_DAYS
    days_to_sale = features["days_to_first_sale"].dropna()
    counts = by_type["events"]
    return ProgramSummary(
        as_of=as_of,
        partners=len(features),
        first_event_at=past["ts"].min() if len(past) else None,
        last_event_at=past["ts"].max() if len(past) else None,
        events_by_type=by_type,
        active_partners=int(active_mask(features, config).sum()),
        in_play_partners=len(in_play),
        revenue_total=float(by_type.loc["sale", "amount"]) if "sale" in by_type.index else 0.0,
        revenue_30d=float(past.loc[(past["event_type"] == "sale") & (past["ts"] >= as_of - pd.Timedelta(days=30)), "amount"].sum()),
        top5_revenue_share=top_share,
        segment_mix=mix,
        activation_rate=_share(float(activated.sum()), len(mature)),
        median_days_to_first_sale=float(days_to_sale.median()) if len(days_to_sale) else float("nan"),
        click_to_lead=_share(counts.get("lead", 0), counts.get("click", 0)),
        lead_to_sale=_share(counts.get("sale", 0), counts.get("lead", 0)),
        nps=None if surveys is None else net_promoter_scores(surveys, features.set_index("partner_id")["segment"], as_of),
    )


def net_promoter_scores(surveys: pd.DataFrame, segment: pd.Series, as_of: pd.Timestamp) -> pd.DataFrame:
    """NPS of the program (`all`) and per segment (`segment`: per partner_id, at the cutoff) from each partner's
    latest answer in [as_of - SURVEY_WINDOW_DAYS, as_of); rows in SEGMENTS order, `all` first, nps NaN where
    a group has no answer."""
    recent = surveys[(surveys["ts"] < as_of) & (surveys["ts"] >= as_of - pd.Timedelta(days=SURVEY_WINDOW_DAYS))]
    latest = recent.sort_values("ts", kind="stable").groupby("partner_id", observed=True)["score"].last()
    answers = pd.DataFrame({"score": latest.to_numpy()}, index=latest.index.astype(str))
    answers["segment"] = segment.reindex(answers.index).to_numpy()
    rows = {}
    for group, scores in [("all", answers["score"]), *((name, answers.loc[answers["segment"] == name, "score"]) for name in SEGMENTS)]:
        promoters, detractors = int((scores >= PROMOTER_SCORE).sum()), int((scores <= DETRACTOR_SCORE).sum())
        nps = 100.0 * (promoters - detractors) / len(scores) if len(scores) else float("nan")
        rows[group] = {"answers": len(scores), "promoters": promoters, "detractors": detractors, "nps": nps}
    return pd.DataFrame.from_dict(rows, orient="index")


def format_summary(summary: ProgramSummary) -> str:
    """The summary as a short plain-text report for the terminal."""
    lines = [
        f"program as of {summary.as_of:%Y-%m-%d %H:%M} UTC",
        f"  partners signed up      {summary.partners:>12,}",
        f"  events                  {int(summary.events_by_type['events'].sum()):>12,}"
        + (f"   ({summary.first_event_at:%Y-%m-%d} .. {summary.last_event_at:%Y-%m-%d})" if summary.first_event_at is not None else ""),
        f"  active partners (30d)   {summary.active_partners:>12,}",
        f"  partners in play (90d)  {summary.in_play_partners:>12,}",
        f"  revenue, all time       {summary.revenue_total:>12,.0f}",
        f"  revenue, last 30 days   {summary.revenue_30d:>12,.0f}",
        f"  revenue share of top 5% {summary.top5_revenue_share:>12.1%}   (in-play partners, last 90 days)",
        f"  activation rate         {summary.activation_rate:>12.1%}   (first sale within 90 days of sign-up)",
        f"  median days to 1st sale {summary.median_days_to_first_sale:>12.1f}   (every partner who sold; first sales of the last 90 days: below)",
        f"  funnel                  click->lead {summary.click_to_lead:.1%}, lead->sale {summary.lead_to_sale:.1%}",
        "  events by type:",
    ]
    for event_type, row in summary.events_by_type.iterrows():
        amount = f"  amount {row['amount']:>14,.0f}" if row["amount"] else ""
        lines.append(f"    {event_type:<20}{int(row['events']):>12,}{amount}")
    lines.append("  segments (in play):       partners   share  revenue share")
    for segment, row in summary.segment_mix.iterrows():
        lines.append(f"    {segment:<20}{int(row['partners']):>10,}  {row['share_of_partners']:>6.1%}  {row['share_of_revenue']:>12.1%}")
    if summary.nps is not None:
        lines.append(f"  partner NPS (latest answer per partner, last {SURVEY_WINDOW_DAYS} days):  answers     NPS   (every partner, in play or not)")
        for group, row in summary.nps.iterrows():
            nps = "-" if np.isnan(row["nps"]) else f"{int(np.round(row['nps'])):+d}"
            lines.append(f"    {group:<20}{int(row['answers']):>41,}  {nps:>6}")
    return "\n".join(lines) + "\n"


def _share(part: float, whole: float) -> float:
    return float(part) / float(whole) if whole else 0.0
