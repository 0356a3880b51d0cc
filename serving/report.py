"""The scoring's report (report.LANG.html): program KPIs, segment mix and flows, risk, revenue at risk, the actions
that work (what `partner-churn effects` measured) and the top partners.

One self-contained page, from the Jinja2 template `serving/templates/report.html.j2`: the CSS of
`report.css` inlined in a <style> tag, charts as inline SVG, no scripts, no fonts, images or styles from
anywhere else. A Content-Security-Policy in the page itself forbids scripts and every load but inline
styles and data: images, so even a mistake in escaping can neither run code nor reach the network. The
template autoescapes every value (by `escape`, i.e. `html.escape`); this module computes the texts and
figures, in the report language (`scoring.lang`: en or ru), and the template lays them out.

`render_report` is pure (frames in, an HTML string out): the KPIs come from `serving.kpis`, the words
from `serving.words`, the measured effects from `serving.effects_files.latest_effects` (read by the
command); `serving.outputs.write_scoring` writes it with the risk list.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from features.segments import LADDER_RANK, SEGMENTS
from partner_churn.domain import FIRST_SCORING, SURVEY_WINDOW_DAYS, TREND_ARROWS, UNAVAILABLE, sort_risk_list, utc
from partner_churn.domain import RISK_BANDS as DOMAIN_RISK_BANDS
from partner_churn.errors import InputError
from serving.core import PreviousScoring
from serving.effects_files import MeasuredEffects
from serving.kpis import FIRST_RESULT_WINDOW_DAYS, MONTH_AGO, REVENUE_WINDOW_DAYS, THREE_MONTHS_AGO, TREND_STEP_DAYS, TREND_STEPS, OwnerKpis
from serving.report_effects import action_titles_of, actions_section
from serving.report_format import ReportFormatter, View, as_float
from serving.today import contacts_due, owner_counts
from serving.words import OWNER_NAMES, SEGMENT_NAMES, TEXT, segment_name

RISK_BANDS = (*DOMAIN_RISK_BANDS, UNAVAILABLE)
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

REQUIRED_COLUMNS = (
    "partner_id",
    "segment",
    "previous_segment",
    "deactivation_risk",
    "risk_band",
    "upgrade_potential",
    "value_at_risk",
    "reasons",
    "model_version",
    "scored_at",
    "segment_change",
    "expected_revenue",
    "action_title",
    "action_description",
    "owner",
    "due_in_days",
    "days_since_last_activity",
)
"""Columns of the scored frame (`score_partners`' output) that the report reads."""

SEGMENT_COLORS = {"star": "#b7791f", "workhorse": "#2b6cb0", "newbie": "#38a169", "sleeper": "#718096"}
BAND_COLORS = {"inactive": "#a0aec0", "low": "#68d391", "medium": "#f6ad55", "high": "#e53e3e", UNAVAILABLE: "#cbd5e0"}

# --------------------------------------------------------------------------- the page: template and escaping


def escape(value: object) -> str:
    """Any value as HTML text or attribute value."""
    return html.escape(str(value), quote=True)


def svg_open(width: int, height: int, title: str, *, css_class: str = "chart") -> Markup:
    """An inline SVG's opening, titled for screen readers (the report's and the drift summary's charts)."""
    classed = f'class="{css_class}" ' if css_class else ""
    return Markup(
        f'<svg {classed}viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    )


def _autoescaped(value: object) -> object:
    """Autoescape by `escape`, so the page has the entities it always had (`&quot;`, not markupsafe's `&#34;`),
    as the drift summary has; markup (our macros, `svg_open`) passes as it is."""
    return value if hasattr(value, "__html__") else Markup(escape(value))


_ENV = Environment(
    loader=PackageLoader("serving", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    finalize=_autoescaped,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
"""The report's templates (report.html.j2, which inlines report.css); a missing value is an error, not a blank."""
_ENV.globals["svg_open"] = svg_open


# --------------------------------------------------------------------------- rendering


def render_report(
    scored: pd.DataFrame,
    previous: PreviousScoring | None,
    kpis: OwnerKpis,
    *,
    as_of: pd.Timestamp,
    lang: str,
    top: int,
    active_window_days: int = 30,
    in_play_window_days: int = 90,
    horizon_days: int = 30,
    revenue_window_days: int = 90,
    notices: dict[str, str] | None = None,
    effects: MeasuredEffects | None = None,
    action_titles: Mapping[str, str] | None = None,
) -> str:
    """The report as one self-contained HTML page.

    `notices` (target -> one line) are shown under the header: a model unavailable, or one in use that is
    not the champion. `effects` is the latest measurement of the logged actions at or before `as_of`
    (`serving.effects_files.latest_effects`; None: none yet, which the section says), `action_titles`
    (code -> title in `lang`, from the action table) names its actions; a code without one is shown as it is.

    `scored` is `score_partners`' frame (RISK_LIST_COLUMNS + detail_columns(config)); `previous` the previous
    scoring's history entry (`serving.history.previous_scoring`), or None for the first scoring, which says
    so where changes would be;
    `kpis` from `serving.kpis.owner_kpis`. The window arguments only label the page and pick partners in play;
    pass the config's `labels.active_window_days`, `segments.in_play_window_days`,
    `labels.horizon_days` and `segments.revenue_window_days`.
    """
    if lang not in TEXT:
        raise ValueError(f"report language {lang!r}: expected one of {sorted(TEXT)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in scored.columns]
    if missing:
        raise InputError(f"report: the scored frame lacks column(s) {missing}")
    t = TEXT[lang]
    fmt = ReportFormatter(lang)
    as_of = utc(as_of)
    scored = sort_risk_list(scored)
    return _ENV.get_template("report.html.j2").render(
        lang=lang,
        csp=Markup(CSP),  # our constant, written as it is: its quotes stay quotes
        t=t,
        date=fmt.date(as_of),
        meta=_meta(scored, previous, as_of, t, fmt),
        notices=[f"{target}: {line}" for target, line in (notices or {}).items()],
        today=_today_section(scored, as_of, t, fmt, lang),
        kpis=_kpi_cards(kpis, t, fmt, active_window_days),
        owner=_owner_section(kpis, t, fmt, lang),
        segments=_segment_section(scored, previous, t, fmt, lang, in_play_window_days),
        flows=_flows_section(scored, previous, t, fmt, lang),
        segment_names=[SEGMENT_NAMES[lang][s] for s in SEGMENTS],
        risk=_risk_section(scored, previous, t, fmt),
        value=_value_section(scored, t, fmt, lang, horizon_days),
        actions=actions_section(effects, scored, action_titles_of(scored, action_titles), t, fmt, lang, horizon_days),
        top=_top_section(scored, t, fmt, lang, top),
        definitions=_definitions(t, active_window_days, horizon_days, revenue_window_days, kpis.ltv_horizon_months),
    )


def _meta(scored: pd.DataFrame, previous: PreviousScoring | None, as_of: pd.Timestamp, t: dict, fmt: ReportFormatter) -> list[str]:
    """The header's line: the cutoff, when and by which models the partners were scored, and compared with what."""
    meta = [f"{t['as_of']} {fmt.date(as_of)}"]
    if len(scored):
        meta.append(f"{t['scored_at']} {fmt.datetime(utc(scored['scored_at'].iloc[0]))} UTC")
        meta.append(f"{t['model']} {scored['model_version'].iloc[0]}")
        if "trained_through" in scored and pd.notna(scored["trained_through"].iloc[0]) and str(scored["trained_through"].iloc[0]):
            meta.append(f"{t['trained_through']} {fmt.date(utc(scored['trained_through'].iloc[0]))}")
    meta.append(t["previous_scoring"].format(date=fmt.date(previous.as_of)) if previous is not None else t["first_scoring_meta"])
    return meta


def _kpi_cards(kpis: OwnerKpis, t: dict, fmt: ReportFormatter, days: int) -> list[View]:
    """The owner's figures, each with its value a month and three months earlier and a sparkline of its trend."""
    get = kpis.value
    change = get("existing_partner_revenue_change")

    def card(label: str, key: str, show: Any, note: str, delta: str = "", delta_class: str = "") -> View:
        return {
            "label": label,
            "value": show(get(key)),
            "note": note,
            "delta": delta,
            "delta_class": delta_class,
            "trend": t["trend_line"].format(month=show(get(key, MONTH_AGO)), quarter=show(get(key, THREE_MONTHS_AGO))),
            "spark": _sparkline(kpis.trend[key].to_numpy(dtype=float), t["trend_chart"].format(name=label, days=TREND_STEP_DAYS, n=TREND_STEPS)),
        }

    ltv, at_risk_share = get("partner_ltv"), get("ltv_at_risk_share")
    answers = get("nps_answers")
    return [
        card(
            t["active_partners"],
            "active_partners",
            fmt.number,
            t["active_note"].format(days=days, before=fmt.number(get("active_partners_before"))),
        ),
        card(
            t["churn_rate"],
            "partner_churn_rate",
            fmt.percent,
            t["churn_note"].format(churned=fmt.number(get("churned_partners")), base=fmt.number(get("active_partners_before")), days=days),
        ),
        card(
            t["existing_revenue"],
            "existing_partner_revenue",
            fmt.number,
            t["existing_note"].format(days=REVENUE_WINDOW_DAYS, previous=fmt.number(get("existing_partner_revenue_previous"))),
            delta=fmt.signed_percent(change),
            delta_class="" if math.isnan(change) else (" up" if change >= 0 else " down"),
        ),
        card(
            t["ltv"],
            "partner_ltv",
            fmt.number,
            t["ltv_unavailable"]
            if math.isnan(ltv)
            else t["ltv_note"].format(months=kpis.ltv_horizon_months, at_risk=fmt.number(get("ltv_at_risk")), share=fmt.percent(at_risk_share)),
        ),
        card(
            t["nps"],
            "nps",
            lambda v: fmt.signed_number(v),
            t["nps_none"] if math.isnan(answers) or answers == 0 else t["nps_note"].format(n=fmt.number(answers), days=SURVEY_WINDOW_DAYS),
        ),
        card(
            t["first_result"],
            "days_to_first_result",
            lambda v: f"{fmt.number(v, 1)} {t['days_unit']}",
            t["first_result_note"].format(n=fmt.number(get("first_results")), days=FIRST_RESULT_WINDOW_DAYS),
        ),
    ]


def _owner_section(kpis: OwnerKpis, t: dict, fmt: ReportFormatter, lang: str) -> View:
    """LTV by segment and by sign-up quarter at the cutoff, NPS by segment over the trend's dates."""

    def ltv_rows(frame: pd.DataFrame, name: Any) -> list[View]:
        return [
            {
                "name": name(group),
                "cells": [fmt.number(row["partners"]), fmt.number(row["ltv"]), fmt.number(row["ltv_per_partner"]), fmt.number(row["ltv_at_risk"])],
            }
            for group, row in frame.iterrows()
        ]

    head = [t["partners"], t["ltv_total"], t["ltv_per_partner"], t["ltv_at_risk"]]
    nps = kpis.nps_by_segment
    return {
        "title": t["owner"],
        "note": t["owner_note"].format(months=kpis.ltv_horizon_months),
        "ltv_head": head,
        "by_segment": None if kpis.ltv is None else ltv_rows(kpis.ltv.by_segment, lambda s: SEGMENT_NAMES[lang][s]),
        "by_cohort": None if kpis.ltv is None else ltv_rows(kpis.ltv.by_cohort, str),
        "ltv_unavailable": t["ltv_unavailable"],
        "nps_head": [] if nps is None else [fmt.date(d) for d in nps.index],
        "nps_rows": []
        if nps is None
        else [
            {"name": t["all_partners_nps"] if group == "all" else SEGMENT_NAMES[lang][group], "cells": [fmt.signed_number(v) for v in nps[group]]}
            for group in nps.columns
        ],
        "nps_none": t["nps_none"],
    }


def _sparkline(values: np.ndarray, title: str) -> View:
    """A small line of a trend (oldest first): a polyline per run of known points, a dot for a point alone
    (the score history had a scoring near it, not near its neighbours) and for the latest point."""
    width, height, pad = 150, 34, 4
    known = ~np.isnan(values)
    low, high = (float(values[known].min()), float(values[known].max())) if known.any() else (0.0, 1.0)
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def xy(i: int) -> tuple[float, float]:
        return round(pad + i * step, 1), round(height - pad - (height - 2 * pad) * ((values[i] - low) / (high - low) if high > low else 0.5), 1)

    runs: list[list[tuple[float, float]]] = []
    for i in range(len(values)):
        if known[i]:
            if i == 0 or not known[i - 1]:
                runs.append([])
            runs[-1].append(xy(i))
    lines = [" ".join(f"{x:.1f},{y:.1f}" for x, y in run) for run in runs if len(run) > 1]
    dots = [run[0] for run in runs if len(run) == 1] + ([xy(len(values) - 1)] if len(values) and known[-1] else [])
    return {"width": width, "height": height, "title": title, "runs": lines, "dots": dots}


def _segment_section(scored: pd.DataFrame, previous: PreviousScoring | None, t: dict, fmt: ReportFormatter, lang: str, in_play_days: int) -> View:
    in_play = _in_play_counts(scored, in_play_days)
    everyone = scored["segment"].value_counts().reindex(SEGMENTS, fill_value=0) if len(scored) else pd.Series(0, index=list(SEGMENTS))
    before = _in_play_counts(previous.rows, in_play_days) if previous is not None else None
    total = max(int(in_play.sum()), 1)
    bars = [
        (SEGMENT_NAMES[lang][s], float(in_play[s]), SEGMENT_COLORS[s], f"{fmt.number(in_play[s])} · {fmt.percent(in_play[s] / total)}")
        for s in SEGMENTS
    ]
    rows = [
        {
            "color": SEGMENT_COLORS[s],
            "name": SEGMENT_NAMES[lang][s],
            "cells": [
                fmt.number(in_play[s]),
                fmt.percent(in_play[s] / total),
                fmt.number(everyone[s]),
                "—" if before is None else fmt.signed_number(float(in_play[s] - before[s])),
            ],
        }
        for s in SEGMENTS
    ]
    return {
        "title": t["segments"],
        "note": t["segments_note"].format(days=in_play_days),
        "chart": _hbar_chart(bars, t["segments"]),
        "head": [t["segment"], t["in_play"], t["share"], t["all_partners"], _vs_previous(previous, t, fmt)],
        "rows": rows,
    }


def _in_play_counts(frame: pd.DataFrame, days: int) -> pd.Series:
    if not len(frame) or "days_since_last_activity" not in frame:
        return pd.Series(0, index=list(SEGMENTS))
    silent = pd.to_numeric(frame["days_since_last_activity"], errors="coerce")
    return frame.loc[(silent <= days).to_numpy(), "segment"].value_counts().reindex(SEGMENTS, fill_value=0)


def _vs_previous(previous: PreviousScoring | None, t: dict, fmt: ReportFormatter) -> str:
    """The header of a 'since previous scoring' column: its date, or that this is the first scoring."""
    return f"{t['vs_previous']} ({fmt.date(previous.as_of)})" if previous is not None else t["first_scoring"]


def _flows_section(scored: pd.DataFrame, previous: PreviousScoring | None, t: dict, fmt: ReportFormatter, lang: str) -> View | None:
    """From-to counts of segments since the previous scoring; None for the first scoring (no made-up flows)."""
    if previous is None:
        return None
    new_key = "__new__"
    origin = scored["previous_segment"].where(scored["previous_segment"].notna(), new_key).astype(str) if len(scored) else pd.Series(dtype=str)
    matrix = pd.crosstab(origin, scored["segment"]) if len(scored) else pd.DataFrame()
    matrix = matrix.reindex(index=[*SEGMENTS, new_key], columns=list(SEGMENTS), fill_value=0)
    up = down = 0
    for a in SEGMENTS:
        for b in SEGMENTS:
            if LADDER_RANK[b] > LADDER_RANK[a]:
                up += int(matrix.loc[a, b])
            elif LADDER_RANK[b] < LADDER_RANK[a]:
                down += int(matrix.loc[a, b])
    rows = []
    for a in [*SEGMENTS, new_key]:
        cells = []
        for b in SEGMENTS:
            n = int(matrix.loc[a, b])
            kind = (
                "new"
                if a == new_key
                else ("same" if a == b else ("up" if LADDER_RANK[b] > LADDER_RANK[a] else "down" if LADDER_RANK[b] < LADDER_RANK[a] else "side"))
            )
            cells.append({"kind": kind, "zero": n == 0, "text": fmt.number(n)})
        rows.append({"label": t["new"] if a == new_key else SEGMENT_NAMES[lang][a], "cells": cells})
    since = t["since"].format(date=fmt.date(previous.as_of))
    note = t["flows_note"].format(since=since, up=fmt.number(up), down=fmt.number(down), new=fmt.number(int(matrix.loc[new_key].sum())))
    return {"note": note, "rows": rows}


def _risk_section(scored: pd.DataFrame, previous: PreviousScoring | None, t: dict, fmt: ReportFormatter) -> View:
    risk = pd.to_numeric(scored["deactivation_risk"], errors="coerce") if len(scored) else pd.Series(dtype=float)
    scored_rows = risk.notna().to_numpy()
    values = risk[scored_rows].to_numpy(dtype=float)
    bands = scored["risk_band"].to_numpy()[scored_rows] if len(scored) else np.array([], dtype=object)
    decile = np.minimum((values * 10).astype(int), 9) if len(values) else np.array([], dtype=int)
    bars = []
    for k in range(10):
        inside = decile == k
        common = pd.Series(bands[inside]).mode()
        band = str(common.iloc[0]) if len(common) else "low"
        label = f"{fmt.decimal(k / 10, 1)}–{fmt.decimal((k + 1) / 10, 1)}"
        bars.append((label, float(inside.sum()), BAND_COLORS.get(band, BAND_COLORS["low"]), fmt.number(int(inside.sum()))))
    counts = scored["risk_band"].value_counts().reindex(RISK_BANDS, fill_value=0) if len(scored) else pd.Series(0, index=list(RISK_BANDS))
    before = previous.rows["risk_band"].value_counts().reindex(RISK_BANDS, fill_value=0) if previous is not None else None
    rows = [
        {
            "color": BAND_COLORS[b],
            "name": t["bands"][b],
            "cells": [fmt.number(counts[b]), fmt.signed_number(float(counts[b] - before[b])) if before is not None else "—"],
        }
        for b in RISK_BANDS
    ]
    return {
        "title": t["risk"],
        "note": t["risk_note"].format(n=fmt.number(len(values))),
        "chart": _vbar_chart(bars, t["risk"]),
        "head": [t["band"], t["partners"], _vs_previous(previous, t, fmt)],
        "rows": rows,
    }


def _value_section(scored: pd.DataFrame, t: dict, fmt: ReportFormatter, lang: str, horizon_days: int) -> View:
    if len(scored):
        frame = pd.DataFrame(
            {
                "segment": scored["segment"].to_numpy(),
                "revenue_at_risk": pd.to_numeric(scored["deactivation_risk"], errors="coerce").fillna(0.0).to_numpy()
                * scored["expected_revenue"].to_numpy(dtype=float),
                "expected_revenue": scored["expected_revenue"].to_numpy(dtype=float),
                "value_at_risk": scored["value_at_risk"].to_numpy(dtype=float),
                "high": (scored["risk_band"] == "high").to_numpy(),
            }
        )
        by = frame.groupby("segment")[["revenue_at_risk", "expected_revenue", "value_at_risk", "high"]].sum().reindex(SEGMENTS, fill_value=0)
    else:
        by = pd.DataFrame(0.0, index=list(SEGMENTS), columns=["revenue_at_risk", "expected_revenue", "value_at_risk", "high"])
    bars = [
        (SEGMENT_NAMES[lang][s], float(by.loc[s, "revenue_at_risk"]), SEGMENT_COLORS[s], fmt.number(by.loc[s, "revenue_at_risk"])) for s in SEGMENTS
    ]
    rows = [
        {
            "color": SEGMENT_COLORS[s],
            "name": SEGMENT_NAMES[lang][s],
            "cells": [fmt.number(by.loc[s, column]) for column in ("revenue_at_risk", "expected_revenue", "value_at_risk", "high")],
        }
        for s in SEGMENTS
    ]
    return {
        "title": t["value"],
        "note": t["value_note"].format(days=horizon_days),
        "chart": _hbar_chart(bars, t["value"]),
        "head": [t["segment"], t["revenue_at_risk"], t["expected_revenue"], t["value_at_risk"], t["high_risk"]],
        "rows": rows,
    }


def _top_section(scored: pd.DataFrame, t: dict, fmt: ReportFormatter, lang: str, top: int) -> View:
    head = scored.head(max(int(top), 0))
    rows = [
        {
            "partner_id": str(row.partner_id),
            "color": SEGMENT_COLORS.get(str(row.segment), "#999"),
            "segment": segment_name(row.segment, lang),
            "change": _change_text(row.segment_change, row.previous_segment, row.segment, t, lang),
            "risk": _risk_cell(row, t, fmt),
            "upgrade_potential": fmt.percent(row.upgrade_potential, 0),
            "value_at_risk": fmt.number(row.value_at_risk),
            "action_title": str(row.action_title),
            "reasons": _reasons(row.reasons),
            "due": fmt.number(row.due_in_days),
        }
        for row in head.itertuples(index=False)
    ]
    return {"title": t["top"].format(n=len(head) if len(head) < top else top), "rows": rows}


TODAY_ROWS = 20
"""Contacts due today shown per owner in the report (all are in the spreadsheet and the owner's CSV)."""


def _today_section(scored: pd.DataFrame, as_of: pd.Timestamp, t: dict, fmt: ReportFormatter, lang: str) -> list[View]:
    """First thing a manager reads: per owner, contacts due today and this week, and today's in priority order
    (no owner: no personal contact is due this week)."""
    contacts = contacts_due(scored, as_of) if len(scored) else scored.iloc[0:0]
    if contacts.empty:
        return []
    owners = []
    for _, counts in owner_counts(contacts).iterrows():
        owner = str(counts["owner"])
        due_today = contacts[(contacts["owner"] == owner) & (contacts["due_in_days"] == 0)].head(TODAY_ROWS)
        rows = [
            {
                "partner_id": row.partner_id,
                "segment": segment_name(row.segment, lang),
                "risk": _risk_cell(row, t, fmt),
                "action_title": row.action_title,
                "action_description": row.action_description,
                "reasons": _reasons(row.reasons),
                "value_at_risk": fmt.number(row.value_at_risk),
                "last_activity": fmt.date(utc(row.last_activity_date)) if row.last_activity_date else "",
            }
            for row in due_today.itertuples(index=False)
        ]
        summary = t["today_counts"].format(today=int(counts["today"]), week=int(counts["this_week"]), value=fmt.number(counts["value_at_risk"]))
        owners.append({"name": OWNER_NAMES[lang].get(owner, owner), "summary": summary, "rows": rows})
    return owners


def _reasons(reasons: object) -> list[str]:
    """The risk list's reasons (one text, ' | ' between them) as a list."""
    return [r.strip() for r in str(reasons or "").split(" | ") if r.strip()]


def _risk_cell(row: Any, t: dict, fmt: ReportFormatter) -> View:
    """A partner's deactivation risk (coloured by its band), its trend arrow and change since the previous
    scoring (none when unknown), and since when it is high for how many whole weeks (none when not high)."""
    arrow = getattr(row, "risk_trend", None)
    change = as_float(getattr(row, "risk_change", math.nan))
    trend = kind = ""
    if isinstance(arrow, str) and arrow and not math.isnan(change):
        kind = {TREND_ARROWS["up"]: "up", TREND_ARROWS["down"]: "down"}.get(arrow, "steady")
        points = t["points"].format(value=fmt.signed_number(100 * change), previous=fmt.percent(getattr(row, "previous_risk", math.nan), 0))
        trend = f"{arrow} {points}"
    since = getattr(row, "high_band_since", None)
    high = "" if since is None or pd.isna(since) else t["high_since"].format(date=fmt.date(utc(since)), weeks=fmt.number(int(row.weeks_in_high_band)))
    return {"band": str(row.risk_band), "risk": fmt.percent(row.deactivation_risk, 0), "trend": trend, "trend_kind": kind, "high": high}


def _change_text(change: object, previous: object, segment: object, t: dict, lang: str) -> str:
    if change == FIRST_SCORING:
        return t["first_scoring"]
    if change == "same":
        return t["same"]
    if change == "new" or previous is None or (isinstance(previous, float) and math.isnan(previous)):
        return t["new"]
    return f"{segment_name(previous, lang)} → {segment_name(segment, lang)}"


def _definitions(t: dict, active_days: int, horizon_days: int, revenue_days: int, ltv_months: int) -> list[str]:
    return [
        t["def_active"].format(days=active_days),
        t["def_churn"].format(days=active_days),
        t["def_revenue"].format(days=REVENUE_WINDOW_DAYS),
        t["def_ltv"].format(horizon=horizon_days, window=revenue_days, months=ltv_months),
        t["def_nps"].format(days=SURVEY_WINDOW_DAYS),
        t["def_first"].format(days=FIRST_RESULT_WINDOW_DAYS),
        t["def_segments"],
        t["def_value"],
        t["def_offline"],
    ]


# --------------------------------------------------------------------------- charts (inline SVG, drawn by the template)


def _hbar_chart(bars: Sequence[tuple[str, float, str, str]], title: str) -> View:
    """Horizontal bars: (label, value, colour, value text) each; scaled to the largest value."""
    row_h, label_w, width, value_w = 34, 150, 560, 130
    top = max((v for _, v, _, _ in bars), default=0.0) or 1.0
    plot = width - label_w - value_w
    return {
        "kind": "hbar",
        "title": title,
        "width": width,
        "height": row_h * len(bars) + 10,
        "label_x": label_w - 10,
        "plot_x": label_w,
        "plot_w": plot,
        "bars": [
            {"label": label, "color": color, "text": text, "y": 5 + i * row_h, "w": max(plot * max(value, 0.0) / top, 1.5 if value > 0 else 0.0)}
            for i, (label, value, color, text) in enumerate(bars)
        ],
    }


def _vbar_chart(bars: Sequence[tuple[str, float, str, str]], title: str) -> View:
    """Vertical bars (a histogram): (label, value, colour, value text) each."""
    width, height, left, bottom, top_pad = 560, 240, 10, 40, 24
    slot = (width - 2 * left) / max(len(bars), 1)
    plot_h = height - bottom - top_pad
    top = max((v for _, v, _, _ in bars), default=0.0) or 1.0
    shapes = []
    for i, (label, value, color, text) in enumerate(bars):
        h = plot_h * max(value, 0.0) / top
        shapes.append({"label": label, "color": color, "text": text, "x": left + i * slot + 4, "y": height - bottom - h, "h": h})
    return {
        "kind": "vbar",
        "title": title,
        "width": width,
        "height": height,
        "left": left,
        "axis_y": height - bottom,
        "bar_w": slot - 8,
        "bars": shapes,
    }


# --------------------------------------------------------------------------- numbers per language
