"""The report's "Actions that work" section: what `partner-churn effects` measured of the logged actions (each
action x segment's effects with intervals and verdicts in words, a Qini chart per judged action) and what this
scoring proposed by measured saved revenue. Pure: the effects and the scored frame in, the section's view out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from retention.effects import ALL
from retention.measure import test_rows_total
from retention.measured import MEASURED
from retention.power import ROWS_FACTOR_SHOWN, shown_rows_factor
from serving.effects_files import MeasuredEffects
from serving.report_format import ReportFormatter, View, as_float
from serving.words import segment_name


def action_titles_of(scored: pd.DataFrame, action_titles: Mapping[str, str] | None) -> dict[str, str]:
    """Action code -> title: those of the actions given in this scoring, then the action table's."""
    titles: dict[str, str] = {}
    if len(scored) and "action" in scored:
        pairs = scored[["action", "action_title"]].dropna().drop_duplicates("action")
        titles = {str(code): str(title) for code, title in zip(pairs["action"], pairs["action_title"], strict=True) if str(title)}
    return titles | {str(code): str(title) for code, title in (action_titles or {}).items()}


def actions_section(
    effects: MeasuredEffects | None, scored: pd.DataFrame, titles: dict[str, str], t: dict, fmt: ReportFormatter, lang: str, horizon_days: int
) -> View:
    """What the action log measured: each action x segment cell of the effects table with its verdicts, each
    judged action's Qini curve, and how many partners of this scoring got a measured action."""
    scoring = _measured_line(scored, t, fmt, horizon_days)
    if effects is None:
        return {"title": t["effects"], "none": t["no_effects"], "scoring": scoring if _measured_count(scored) else ""}
    level = t["interval_level"].format(level=fmt.percent(effects.confidence, 0)) if effects.confidence is not None else t["interval"]
    cells = effects.table[effects.table["risk_band"] == ALL]
    groups = []
    for action, rows in cells.groupby("action", sort=False):
        segments = rows[rows["segment"] != ALL]
        overall = rows[rows["segment"] == ALL]
        if len(segments) == 1 and len(overall) and _same_rows(overall.iloc[0], segments.iloc[0]):
            rows = segments  # the action's one segment is all of it: its `all` row would say the same again
        groups.append(
            {
                "title": titles.get(str(action), str(action)),
                "rows": [
                    {
                        "segment": t["all_segments"] if r.segment == ALL else segment_name(r.segment, lang),
                        "contacted": fmt.number(r.n_treated),
                        "held_out": fmt.number(r.n_holdout),
                        "silence": _effect_text(100 * as_float(r.silent_effect), 100 * as_float(r.silent_low), 100 * as_float(r.silent_high), fmt, 1),
                        "silence_verdict": _verdict(r.silent_verdict, t),
                        "revenue": _effect_text(as_float(r.revenue_effect), as_float(r.revenue_low), as_float(r.revenue_high), fmt, 0),
                        "revenue_verdict": _verdict(r.revenue_verdict, t),
                    }
                    for r in rows.itertuples(index=False)
                ],
            }
        )
    charts = [_qini_chart(e, titles.get(str(e["action"]), str(e["action"])), t, fmt) for e in effects.evaluations]
    skipped = [line.split(": ", 1)[0] for line in effects.skipped]
    qini_empty = "" if charts else t["qini_none"] if effects.evaluated else t["qini_missing"]
    return {
        "title": t["effects"],
        "none": "",
        "note": t["effects_note"].format(date=fmt.date(effects.as_of), days=effects.horizon_days or horizon_days),
        "head": [
            t["action"],
            t["effects_group"],
            t["contacted"],
            t["held_out"],
            t["silence_effect"].format(interval=level),
            t["verdict"],
            t["revenue_effect"].format(interval=level),
            t["verdict"],
        ],
        "groups": groups,
        "charts": charts,
        "qini_empty": qini_empty,
        "skipped": t["qini_skipped"].format(actions=", ".join(titles.get(code, code) for code in skipped)) if skipped else "",
        "scoring": scoring,
    }


def _same_rows(overall: Any, segment: Any) -> bool:
    return all(as_float(overall[c]) == as_float(segment[c]) for c in ("n_treated", "n_holdout", "n_unknown_arm", "n_no_outcome"))


def _effect_text(effect: float, low: float, high: float, fmt: ReportFormatter, digits: int) -> str:
    """A measured effect and its interval, `+1.2 [−0.4, +2.8]` (`—` when it was not estimated)."""
    if math.isnan(effect):
        return "—"
    return f"{fmt.signed_number(effect, digits)} {fmt.interval(low, high, digits)}"


def _verdict(code: object, t: dict) -> View:
    text = str(code)
    return {"kind": text.replace(" ", "-"), "text": t["verdicts"].get(text, text)}


def _measured_count(scored: pd.DataFrame) -> int:
    return int((scored["action_basis"] == MEASURED).sum()) if len(scored) and "action_basis" in scored else 0


def _measured_line(scored: pd.DataFrame, t: dict, fmt: ReportFormatter, horizon_days: int) -> str:
    """How many partners of this scoring got a measured action and what they are expected to save, or that
    every action came from the action table."""
    n = _measured_count(scored)
    if not n:
        return t["rule_line"]
    measured = (scored["action_basis"] == MEASURED).to_numpy()
    saved = pd.to_numeric(scored.loc[measured, "expected_saved_revenue"], errors="coerce").sum()
    return t["measured_line"].format(n=fmt.number(n), value=fmt.number(saved), days=horizon_days)


def _rows_needed_line(evaluation: Mapping[str, Any], t: dict, fmt: ReportFormatter) -> str | None:
    """For a model that does not beat random targeting, how many times its test rows a Qini this size would need
    (`retention.measure.rows_to_beat_random`, recorded with the evaluation; None for one that beats it); None
    when there is no such figure."""
    needed, test_rows = evaluation.get("rows_to_beat_random"), evaluation.get("test_rows")
    if not isinstance(needed, int | float) or not isinstance(test_rows, Mapping):
        return None
    rows = test_rows_total(test_rows)
    if rows <= 0:
        return None
    factor = shown_rows_factor(int(needed), rows)
    if factor is None:
        return str(t["qini_too_small"].format(factor=fmt.number(ROWS_FACTOR_SHOWN)))
    return str(t["qini_needs"].format(factor=fmt.decimal(factor, 1), rows=fmt.number(int(needed))))


def _qini_chart(evaluation: Mapping[str, Any], title: str, t: dict, fmt: ReportFormatter) -> View:
    """An action's Qini curve (Q/n against the share targeted) and random targeting's straight line from 0 to
    its last point, with the Qini coefficient, its interval and whether it beats random targeting."""
    curve = [as_float(y) for y in evaluation.get("curve") or []]
    qini, low, high = as_float(evaluation.get("qini")), as_float(evaluation.get("qini_low")), as_float(evaluation.get("qini_high"))
    beats = bool(evaluation.get("beats_random", low > 0))  # the judgement recorded with the evaluation
    verdict = t["beats_random"] if beats else t["not_beats_random"]
    line = t["qini_line"].format(value=fmt.signed_number(qini, 4), interval=fmt.interval(low, high, 4))
    view: View = {
        "title": title,
        "line": line,
        "verdict": verdict,
        "beats": beats,
        "needs": _rows_needed_line(evaluation, t, fmt),
        "svg": None,
    }
    known = [y for y in curve if not math.isnan(y)]
    if len(curve) < 2 or len(known) != len(curve):
        return view
    width, height, left, right, top, bottom = 300, 180, 52, 22, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    low_y, high_y = min(0.0, *curve), max(0.0, *curve)
    span = (high_y - low_y) or 1.0

    def x(i: float) -> float:
        return left + plot_w * i / (len(curve) - 1)

    def y(value: float) -> float:
        return top + plot_h * (high_y - value) / span

    view["svg"] = {
        "title": f"{title}: {line}, {verdict}",
        "width": width,
        "height": height,
        "points": " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(curve)),
        "random": {"x1": f"{x(0):.1f}", "y1": f"{y(0.0):.1f}", "x2": f"{x(len(curve) - 1):.1f}", "y2": f"{y(curve[-1]):.1f}"},
        "zero_y": f"{y(0.0):.1f}",
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": height - bottom,
        "y_ticks": [{"y": f"{y(v):.1f}", "text": fmt.decimal(v, 3)} for v in dict.fromkeys([high_y, 0.0, low_y])],
        "x_ticks": [{"x": f"{x(i * (len(curve) - 1)):.1f}", "text": fmt.percent(i, 0)} for i in (0.0, 0.5, 1.0)],
        "x_label": t["qini_x"],
    }
    return view
