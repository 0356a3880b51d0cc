"""drift_summary.html: the drift check on one short page people read, beside Evidently's full report.

What it shows, in reading order: the scoring date, the reference's training cutoffs and the models (as
the rest of the monitoring output names them: `ScoringModel.label`); the verdict (keep / watch /
retrain: the result's own recommendation, `monitoring.drift.drift_recommendation`) and why, in a
sentence per finding (the same `drift_findings` drift.json's reason is made of); the scores; then the
drifted features (when none drifted, the nearest to their bar), each with its meaning and its
distribution in the training rows and now as an inline SVG histogram; last, how to read it, with links
to drift.html (Evidently's report of every column) and drift.json.

Made like the scoring's report (`serving.report`): one self-contained page, plain CSS in a <style> tag,
charts drawn here as inline SVG, no scripts, fonts, images or styles from anywhere else, a
Content-Security-Policy in the page itself (the report's `CSP`), every text from data through
`html.escape`, labels and numbers in the report language (`scoring.lang`: en or ru; words in
`monitoring.wording`). String building with `html.escape` rather than a template engine, as the
scoring's report does: Jinja2 is no declared dependency of the project. Tens of kilobytes (Evidently's
page is megabytes); `render_summary` is pure, `monitoring.checks.run_drift` writes it first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from features.schema import FeatureSpec
from monitoring.drift import CURRENT_ONLY, NO_VALUES, REFERENCE_ONLY, ColumnDrift, Distribution, DriftResult, drift_findings
from monitoring.store import ScoringModel, primary
from monitoring.wording import (
    CHAMPION,
    TEXT,
    VERDICTS,
    all_clear,
    check_page_lang,
    cutoffs_text,
    date_text,
    decimal,
    feature_meaning,
    finding_sentence,
    of_features_ru,
    score_meaning,
    score_name,
    share,
)
from partner_churn.config import Config
from retention.wording import format_number, short_number
from serving.report import CSP, escape, svg_open
from serving.words import TEXT as REPORT_TEXT

SUMMARY = "drift_summary.html"
FULL_REPORT = "drift.html"
FIGURES = "drift.json"
NEAREST = 3
"""Features shown when none drifted: the ones nearest to their bar."""
LEVEL_ORDER = {"retrain": 0, "watch": 1, "note": 2}
BEFORE_COLOR, AFTER_COLOR = "#a0aec0", "#2b6cb0"


def render_summary(result: DriftResult, schema: Sequence[FeatureSpec], config: Config, *, lang: str | None = None) -> str:
    """The summary page of one drift check as an HTML string (language: `lang`, default `scoring.lang`).

    `result` is `monitoring.drift.compare`'s, with `result.model` set (`store.model_record`); `schema` the
    features compared (their meanings); `config` gives the watch fraction, the thresholds and the horizon."""
    lang = lang or config.scoring.lang
    check_page_lang(lang)
    t = TEXT[lang]
    specs = {spec.name: spec for spec in schema}
    body = [
        _header(result, t, lang),
        _verdict(result, config, t, lang),
        _scores(result, config, t, lang),
        _features(result, specs, config, t, lang),
        _how(result, config, t, lang),
    ]
    title = f"{t['title']} · {date_text(result.as_of, lang)}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


def models_of(result: DriftResult) -> dict[str, ScoringModel]:
    """The scoring versions drift.json names (`store.model_record`), as `ScoringModel`s."""
    return {target: ScoringModel(target=target, **record) for target, record in result.model.items()}


def model_text(model: ScoringModel, lang: str) -> str:
    """'partner-churn-deactivation-risk v1 (champion)': `ScoringModel.label` in English, its words in Russian."""
    if lang == "en":
        return model.label()
    return f"{model.version_label()} {CHAMPION[lang][0 if model.champion else 1]}"


# --------------------------------------------------------------------------- sections


def _header(result: DriftResult, t: dict[str, str], lang: str) -> str:
    s = result.sampling
    if s.reference_first_cutoff:
        reference = t["reference"].format(
            first=date_text(s.reference_first_cutoff, lang),
            last=date_text(s.reference_last_cutoff, lang),
            cutoffs=cutoffs_text(s.reference_cutoffs, lang),
        )
    else:
        reference = t["reference_unknown"]
    models = " · ".join(model_text(m, lang) for m in models_of(result).values()) or "—"
    return (
        f"<header><h1>{escape(t['title'])}</h1>"
        f'<p class="meta"><b>{escape(t["scoring"].format(date=date_text(result.as_of, lang)))}</b>, {escape(reference)}</p>'
        f'<p class="meta">{escape(t["models"])}: {escape(models)}</p></header>'
    )


def _verdict(result: DriftResult, config: Config, t: dict[str, str], lang: str) -> str:
    action = result.recommendation.action
    word, todo = VERDICTS[lang][action]
    findings = sorted(drift_findings(result, config.monitoring), key=lambda f: LEVEL_ORDER[f.level])
    why = [finding_sentence(f, result, config.monitoring.watch_fraction, lang) for f in findings] or [all_clear(lang)]
    return (
        f'<section id="verdict" class="verdict {escape(action)}"><h2>{escape(t["verdict"])}: <span class="badge">{escape(word)}</span></h2>'
        f'<p class="todo">{escape(todo)}</p>'
        f'<p class="why">{" ".join(escape(sentence) for sentence in why)}</p></section>'
    )


def _scores(result: DriftResult, config: Config, t: dict[str, str], lang: str) -> str:
    rows, charts = [], []
    near = {f.column for f in drift_findings(result, config.monitoring) if f.kind in ("score_drifted", "score_near")}
    for score in result.scores:
        unavailable = score.method == NO_VALUES
        state = t["unavailable"] if unavailable else t["drifted"] if score.drifted else t["within"]
        rows.append(
            f'<tr><td><b>{escape(score_name(score.column, lang))}</b><br><span class="muted">'
            f"{escape(score_meaning(score.column, config.labels.horizon_days, lang))}</span></td>"
            f'<td class="num">{escape(decimal(score.drift_score, lang, 3))}</td><td class="num">{escape(decimal(score.threshold, lang, 3))}</td>'
            f'<td class="{"bad" if score.drifted else "muted"}">{escape(state)}</td></tr>'
        )
        if score.column in near and score.column in result.distributions:
            charts.append(f'<div class="chart">{_chart(result.distributions[score.column], score_name(score.column, lang), t, lang)}</div>')
    header = f'<tr><th>{escape(t["score"])}</th><th class="num">{escape(t["change"])}</th><th class="num">{escape(t["bar"])}</th><th></th></tr>'
    return (
        f'<section id="scores"><h2>{escape(t["scores"])}</h2><table><thead>{header}</thead><tbody>{"".join(rows)}</tbody></table>'
        f"{''.join(charts)}</section>"
    )


def _features(result: DriftResult, specs: dict[str, FeatureSpec], config: Config, t: dict[str, str], lang: str) -> str:
    drifted = result.drifted_columns()
    shown = drifted or result.nearest_features(NEAREST)
    heading = t["features_drifted"].format(n=len(drifted), total=len(result.features)) if drifted else t["features_none"]
    legend = (
        f'<p class="legend"><span class="swatch" style="background:{BEFORE_COLOR}"></span>{escape(t["before"])} '
        f'<span class="swatch" style="background:{AFTER_COLOR}"></span>{escape(t["after"])}</p>'
    )
    cards = "".join(_feature_card(column, specs.get(column.column), result.distributions.get(column.column), config, t, lang) for column in shown)
    return f'<section id="features"><h2>{escape(heading)}</h2>{legend if shown else ""}{cards}</section>'


def _feature_card(column: ColumnDrift, spec: FeatureSpec | None, dist: Distribution | None, config: Config, t: dict[str, str], lang: str) -> str:
    meaning = feature_meaning(spec, config, lang) if spec is not None else ""
    if column.method == REFERENCE_ONLY:
        figures = [t["reference_only"]]
    elif column.method == CURRENT_ONLY:
        figures = [t["current_only"]]
    else:
        state = t["drifted"] if column.drifted else t["below"]
        figures = [t["change_line"].format(score=decimal(column.drift_score, lang), bar=decimal(column.threshold, lang), state=state)]
    if dist is not None and dist.kind == "numerical" and not (math.isnan(dist.reference_median) and math.isnan(dist.current_median)):
        digits, more = _digits(dist), _digits(dist) + 1
        figures.append(
            t["median"].format(
                before=_number(dist.reference_median, lang, digits),
                before_mean=_number(dist.reference_mean, lang, more),
                after=_number(dist.current_median, lang, digits),
                after_mean=_number(dist.current_mean, lang, more),
            )
        )
    if dist is not None and (dist.reference_missing > 0 or dist.current_missing > 0):
        figures.append(t["missing"].format(before=share(dist.reference_missing, lang), after=share(dist.current_missing, lang)))
    tag = f' <span class="tag">{escape(t["drifted"])}</span>' if column.drifted else ""
    chart = f'<div class="chart">{_chart(dist, column.column, t, lang)}</div>' if dist is not None and dist.reference + dist.current else ""
    return (
        f'<article class="feature"><h3><code>{escape(column.column)}</code>{tag}</h3>'
        f'<p class="meaning">{escape(meaning)}</p><p class="figures">{escape(" ".join(figures))}</p>{chart}</article>'
    )


def _how(result: DriftResult, config: Config, t: dict[str, str], lang: str) -> str:
    m, s = config.monitoring, result.sampling
    sampled = t["sampled"].format(n=format_number(s.sample_size, lang)) if s.sampled else ""
    models = models_of(result)
    run = " " + t["run"].format(run_id=primary(models).run_id) if models else ""
    items = [
        t["how_change"].format(
            numerical=decimal(m.numerical_threshold, lang),
            categorical=decimal(m.categorical_threshold, lang),
            score=decimal(m.score_drift_threshold, lang),
            factor=short_number(m.natural_drift_factor, lang, 2),
        ),
        t["how_rows"].format(
            current=format_number(s.compared_current_rows, lang),
            sampled=sampled,
            reference=format_number(s.compared_reference_rows, lang),
            coverage=share(s.coverage, lang),
        )
        + run,
        t["how_alarm"].format(
            alarm=result.features_for_share(result.drift_share_threshold),
            total=len(result.features),
            of_features=of_features_ru(len(result.features)),
            watch=result.features_for_share(m.watch_fraction * result.drift_share_threshold),
            fraction=share(m.watch_fraction, lang),
        ),
    ]
    links = f'{escape(t["full_report"])} <a href="{FULL_REPORT}">{FULL_REPORT}</a> {escape(t["full_report_note"])} <a href="{FIGURES}">{FIGURES}</a>.'
    listed = "".join(f"<li>{escape(item)}</li>" for item in items)
    return (
        f'<footer id="how"><h2>{escape(t["how"])}</h2><ol>{listed}<li>{links}</li><li>{escape(REPORT_TEXT[lang]["def_offline"])}</li></ol></footer>'
    )


# --------------------------------------------------------------------------- charts (inline SVG)


def _chart(dist: Distribution, name: str, t: dict[str, str], lang: str) -> str:
    title = t["chart"].format(feature=name)
    return _categorical_chart(dist, title, t, lang) if dist.kind == "categorical" else _histogram(dist, title, lang)


def _histogram(dist: Distribution, title: str, lang: str) -> str:
    """Before (grey) and after (blue) bars side by side per bin; heights are shares of each side's values."""
    width, height, left, right, top, bottom = 440, 140, 36, 8, 10, 22
    bins = len(dist.reference)
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / bins
    tallest = max(max(dist.reference), max(dist.current)) or 1.0
    parts: list[str] = [svg_open(width, height, title, css_class="")]
    parts.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" class="tick">{escape(share(tallest, lang))}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" class="axis"/>')
    bar = max((slot - 2) / 2, 0.5)
    for i, (before, after) in enumerate(zip(dist.reference, dist.current)):
        x = left + i * slot + 1
        for offset, value, color in ((0.0, before, BEFORE_COLOR), (bar, after, AFTER_COLOR)):
            h = plot_h * value / tallest
            if h > 0:
                parts.append(f'<rect x="{x + offset:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{color}"/>')
    for position, label in _ticks(dist, lang):
        x = left + position * plot_w
        anchor = "start" if position == 0 else "end" if position == 1 else "middle"
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}" class="tick">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _ticks(dist: Distribution, lang: str) -> list[tuple[float, str]]:
    """(position along the axis 0..1, label): each value of a few whole-number bins, else both ends and the middle."""
    edges = dist.edges
    bins = len(edges) - 1
    if dist.integer:
        step = max(1, math.ceil(bins / 8))
        return [((i + 0.5) / bins, _number(edges[i] + 0.5, lang, 0)) for i in range(0, bins, step)]
    digits = _digits(dist)
    return [(0.0, _number(edges[0], lang, digits)), (0.5, _number((edges[0] + edges[-1]) / 2, lang, digits)), (1.0, _number(edges[-1], lang, digits))]


def _categorical_chart(dist: Distribution, title: str, t: dict[str, str], lang: str) -> str:
    """One row per category: before (grey) over after (blue), with both shares in words."""
    names = [*dist.categories, *([t["other"]] if dist.other else [])]
    row, label_w, width, value_w = 26, 120, 440, 96
    height = row * len(names) + 6
    plot = width - label_w - value_w
    tallest = max(max(dist.reference, default=0.0), max(dist.current, default=0.0)) or 1.0
    parts: list[str] = [svg_open(width, height, title, css_class="")]
    for i, (name, before, after) in enumerate(zip(names, dist.reference, dist.current)):
        y = 3 + i * row
        label = name if len(name) <= 16 else name[:15] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" class="lbl">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{plot * before / tallest:.1f}" height="9" fill="{BEFORE_COLOR}"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 12}" width="{plot * after / tallest:.1f}" height="9" fill="{AFTER_COLOR}"/>')
        parts.append(f'<text x="{width - value_w + 6}" y="{y + 16}" class="val">{escape(share(before, lang))} → {escape(share(after, lang))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _digits(dist: Distribution) -> int:
    """Decimals that tell a numerical distribution's bins apart: none for bins a unit wide or wider."""
    if dist.integer or len(dist.edges) < 2:
        return 0
    step = (dist.edges[-1] - dist.edges[0]) / (len(dist.edges) - 1)
    return 0 if step >= 1 or step <= 0 else min(4, int(math.ceil(-math.log10(step))))


def _number(value: float, lang: str, digits: int) -> str:
    return "—" if not np.isfinite(value) else short_number(value, lang, digits)


_CSS = """
:root { --ink: #1a202c; --muted: #5a6577; --line: #e2e8f0; --bg: #f7f9fc; --card: #ffffff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 40px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
.meta { margin: 0 0 4px; color: var(--muted); }
section, footer { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin-top: 16px; }
h2 { font-size: 18px; margin: 0 0 8px; }
h3 { font-size: 15px; margin: 0 0 2px; }
.verdict { border-left: 6px solid #38a169; }
.verdict.watch { border-left-color: #d69e2e; }
.verdict.retrain { border-left-color: #e53e3e; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 12px; background: #e6f6ec; color: #22543d; }
.watch .badge { background: #fefcbf; color: #744210; }
.retrain .badge { background: #fed7d7; color: #742a2a; }
.todo { font-weight: 600; margin: 0 0 6px; }
.why { margin: 0; max-width: 860px; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { font-size: 12px; color: var(--muted); font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--muted); }
.bad { color: #c53030; font-weight: 600; }
.feature { border-top: 1px solid var(--line); padding: 12px 0 4px; }
.feature code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 14px; }
.tag { font-size: 12px; padding: 1px 8px; border-radius: 10px; background: #fed7d7; color: #742a2a; vertical-align: middle; }
.meaning { margin: 2px 0; }
.figures { margin: 2px 0 6px; color: var(--muted); }
.legend { color: var(--muted); margin: 0 0 4px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; }
.chart svg { max-width: 100%; height: auto; font-family: inherit; }
svg .tick { font-size: 11px; fill: var(--muted); }
svg .lbl { font-size: 12px; fill: var(--ink); }
svg .val { font-size: 12px; fill: var(--muted); }
svg .axis { stroke: #cbd5e0; stroke-width: 1; }
footer ol { margin: 0; padding-left: 20px; color: var(--muted); }
footer li { margin-bottom: 4px; }
@media print { body { background: #fff; } section, footer { break-inside: avoid; } }
"""
