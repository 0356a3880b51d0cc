"""report.html: self-contained, escaped, bilingual; KPIs against hand-worked numbers and a brute-force
reference; and the page checked in a real headless chromium (renders, shows the top table, no console
messages). The scored frames here are synthetic, with the risk list's documented columns: no model needed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.segments import SEGMENTS
from partner_churn.config import Config, EffectsConfig
from partner_churn.errors import InputError
from retention.effects import estimate_effects
from serving.batch import RISK_LIST_COLUMNS, detail_columns
from serving.core import PreviousScoring
from serving.effects_files import MeasuredEffects, effects_file, latest_effects, uplift_file, uplift_json
from serving.kpis import KPI_KEYS, OwnerKpis, trend_cutoffs
from serving.report import REQUIRED_COLUMNS, render_report
from serving.report_format import ReportFormatter
from serving.words import SEGMENT_NAMES, TEXT
from tests.support import CHROMIUM_FLAGS, CONSOLE_LINE, Links, workbook_strings

CONFIG = Config()
DETAIL_COLUMNS = detail_columns(CONFIG)
AS_OF = pd.Timestamp("2026-03-01", tz="UTC")
DAY = pd.Timedelta(days=1)
MALICIOUS = "<script>alert(1)</script>"


def scored_frame(n: int, seed: int = 0, *, reasons: str | None = None) -> pd.DataFrame:
    """A risk list shaped like `score_partners`' output (its columns, its order), with random values."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(list(SEGMENTS), size=n, p=[0.1, 0.3, 0.4, 0.2])
    previous = np.where(rng.random(n) < 0.8, segment, rng.choice(list(SEGMENTS), size=n)).astype(object)
    previous[rng.random(n) < 0.1] = None
    silent = rng.exponential(25.0, size=n)
    active = silent <= 30
    risk = np.where(active, rng.beta(1.5, 4.0, size=n), np.nan)
    band = np.select([~active, risk >= 0.5, risk >= 0.2], ["inactive", "high", "medium"], default="low")
    revenue_90d = np.round(rng.gamma(1.0, 900.0, size=n) * (segment != "sleeper"), 2)
    expected = revenue_90d / 3
    potential = rng.uniform(0, 1, size=n)
    value = np.where(np.isin(segment, ["newbie", "sleeper"]), potential * 200.0, np.nan_to_num(risk) * expected)
    change = np.where(pd.isna(previous), "new", np.where(previous == segment, "same", previous.astype(str) + " -> " + segment))
    previous_risk = np.where(rng.random(n) < 0.9, np.clip(risk + rng.normal(0, 0.1, size=n), 0, 1), np.nan)
    risk_change = risk - previous_risk
    trend = np.select([np.isnan(risk_change), risk_change >= 0.05, risk_change <= -0.05], [None, "↑", "↓"], default="→")
    weeks_high = np.where(band == "high", rng.integers(0, 6, size=n), -1)
    high_since = pd.Series(AS_OF - pd.to_timedelta(7 * np.maximum(weeks_high, 0), unit="D")).where(weeks_high >= 0)
    frame = pd.DataFrame(
        {
            "partner_id": [f"P{seed:02d}{i:05d}" for i in range(n)],
            "segment": segment,
            "previous_segment": previous,
            "deactivation_risk": risk,
            "risk_band": band,
            "risk_trend": trend,
            "previous_risk": previous_risk,
            "risk_change": risk_change,
            "weeks_in_high_band": pd.array(np.where(weeks_high >= 0, weeks_high, None), dtype="Int64"),
            "high_band_since": high_since,
            "upgrade_potential": potential,
            "value_at_risk": value,
            "action": "group_support",
            "reasons": reasons if reasons is not None else "no clicks for 12 days | revenue 1,200 in the last 90 days",
            "model_version": "partner-churn-deactivation-risk:v3 partner-churn-upgrade-potential:v2",
            "scored_at": pd.Timestamp("2026-03-01 06:15", tz="UTC"),
            "as_of": AS_OF,
            "reasons_source": "risk_model",
            "segment_change": change,
            "downgrade_warning": rng.random(n) < 0.05,
            "potential_band": np.where(potential >= 0.3, "high", "low"),
            "expected_revenue": expected,
            "action_title": "Group support chat and regular tips",
            "action_description": "Invite the partner to the support chat.",
            "channel": "email",
            "owner": "automation",
            "due_in_days": rng.integers(0, 8, size=n),
            "commission_overdue": False,
            "no_onboarding_activity": False,
            "falling_trend": rng.random(n) < 0.2,
            "days_since_last_activity": silent,
            "revenue_30d": revenue_90d / 2,
            "revenue_90d": revenue_90d,
            "tenure_days": rng.uniform(1, 500, size=n),
        }
    )
    frame = frame.sort_values("value_at_risk", ascending=False, kind="stable").reset_index(drop=True)
    return frame.reindex(columns=RISK_LIST_COLUMNS + DETAIL_COLUMNS)  # a column the risk list adds later stays empty


KPIS_NOW = {
    "partners": 1_234_567.0,
    "active_partners": 6047.0,
    "active_partners_before": 5651.0,
    "churned_partners": 1126.0,
    "partner_churn_rate": 0.199256,
    "existing_partner_revenue": 1_551_050.69,
    "existing_partner_revenue_previous": 1_474_001.9,
    "existing_partner_revenue_change": 0.052272,
    "first_results": 747.0,
    "days_to_first_result": 60.44,
    "nps": 12.0,
    "nps_answers": 950.0,
    "partner_ltv": 9_876_543.0,
    "ltv_at_risk": 654_321.0,
    "ltv_at_risk_share": 0.062,
}
KPIS = OwnerKpis(
    as_of=AS_OF,
    trend=pd.DataFrame(
        [{**KPIS_NOW, "active_partners": 5000.0 + 100 * k, "partner_ltv": np.nan if k < 3 else 9e6 + k} for k in range(6)] + [KPIS_NOW],
        index=pd.DatetimeIndex(trend_cutoffs(AS_OF)),
        columns=list(KPI_KEYS),
    ),
    ltv=None,
    nps_by_segment=None,
    ltv_horizon_months=12,
)
"""Owner KPIs: active partners rising 5,000 -> 5,500 over the months before 6,047 now; LTV known from three months back."""


def render(
    scored: pd.DataFrame,
    *,
    lang: str = "en",
    top: int = 50,
    previous: pd.DataFrame | None = None,
    effects: MeasuredEffects | None = None,
    action_titles: dict[str, str] | None = None,
) -> str:
    """The report of `scored`, compared with `previous` as the history entry of a week earlier (None: the first scoring)."""
    entry = None if previous is None else PreviousScoring(as_of=AS_OF - 7 * DAY, rows=previous.set_index("partner_id"))
    return render_report(scored, entry, KPIS, as_of=AS_OF, lang=lang, top=top, effects=effects, action_titles=action_titles)


class _Page(HTMLParser):
    """What the tests read from a page: attributes, headings, and the top table's rows of cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attributes: list[tuple[str, str, str | None]] = []
        self.headings: list[str] = []
        self.top_rows: list[list[str]] = []
        self.scripts = 0
        self._heading: list[str] | None = None
        self._in_top = self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [(tag, name, value) for name, value in attrs]
        self.scripts += tag == "script"
        if tag in ("h1", "h2"):
            self._heading = []
        if tag == "table" and ("id", "top-partners") in attrs:
            self._in_top = True
        if self._in_top and tag == "tbody":
            self._in_body = True
        if self._in_body and tag == "tr":
            self.top_rows.append([])
        if self._in_body and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None
        if tag == "td" and self._cell is not None:
            self.top_rows[-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table":
            self._in_top = self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> _Page:
    parsed = _Page()
    parsed.feed(page)
    parsed.close()
    return parsed


# ---------------------------------------------------------------------------------------------------
# The page


@pytest.mark.parametrize("measured", [False, True])
def test_page_loads_nothing_from_anywhere(tmp_path: Path, measured: bool) -> None:
    page = render(scored_frame(120), effects=measured_effects(tmp_path) if measured else None)
    parsed = parse(page)
    assert "http://" not in page and "https://" not in page
    assert not [a for a in parsed.attributes if a[1] in ("src", "href", "srcset", "xlink:href", "action")]
    assert parsed.scripts == 0 and "<link" not in page and "@import" not in page and "url(" not in page
    csp = [value for tag, name, value in parsed.attributes if tag == "meta" and name == "content" and value and "default-src" in value]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
    # segment mix, risk distribution, revenue at risk; a trend line per owner KPI card; a Qini curve per judged action
    assert page.count("<svg") == 3 + 6 + 2 * measured


@pytest.mark.parametrize(("n", "top"), [(120, 50), (20, 50), (20, 5), (1, 50)])
def test_top_table_has_min_top_and_partners_rows_in_risk_list_order(n: int, top: int) -> None:
    scored = scored_frame(n, seed=n)
    parsed = parse(render(scored, top=top))
    rows = parsed.top_rows
    assert len(rows) == min(top, n)
    expected = scored.sort_values(["value_at_risk", "deactivation_risk", "upgrade_potential"], ascending=False, kind="stable")
    assert [row[1] for row in rows] == expected["partner_id"].head(top).tolist()
    assert all(len(row) == 10 for row in rows)
    assert f"Top {min(top, n)} partners" in parsed.headings


def test_text_from_data_is_escaped() -> None:
    scored = scored_frame(30, reasons=f"{MALICIOUS} | fine reason")
    scored.loc[0, "partner_id"] = '"><img src=x onerror=alert(1)>'
    scored.loc[1, "action_title"] = "Call & <b>pay</b>"
    page = render(scored)
    assert MALICIOUS not in page and "<img" not in page and "<b>pay" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Call &amp; &lt;b&gt;pay&lt;/b&gt;" in page
    rows = parse(page).top_rows
    assert rows[0][1] == '"><img src=x onerror=alert(1)>'  # shown as text, as given


def test_russian_labels_and_numbers() -> None:
    en, ru = render(scored_frame(60), lang="en"), render(scored_frame(60), lang="ru")
    parsed = parse(ru)
    assert '<html lang="ru">' in ru and '<html lang="en">' in en
    assert parsed.headings[0] == "Отчёт по партнёрской программе"
    assert "Топ-50 партнёров" in parsed.headings and "Определения" in parsed.headings
    for english in ("Program KPIs", "Segment mix", "Risk distribution", "Top 50 partners", "Definitions", "Workhorse"):
        assert english in en and english not in ru
    assert "1\u00a0551\u00a0051" in ru and "1,551,051" in en
    assert "19,9\u00a0%" in ru and "19.9%" in en
    assert "+5,2\u00a0%" in ru and "+5.2%" in en
    assert "01.03.2026" in ru and "2026-03-01" in en
    assert set(TEXT["en"]) == set(TEXT["ru"])


def test_segment_flows_and_risk_bands_use_the_whole_frame() -> None:
    scored = scored_frame(200, seed=3)
    page = render(scored, previous=scored)
    moved = scored[scored["previous_segment"].notna() & (scored["previous_segment"] != scored["segment"])]
    new = int(scored["previous_segment"].isna().sum())
    assert f", {new} are new." in page
    assert "(2026-02-22)" in page
    ranks = {"sleeper": 0, "newbie": 0, "workhorse": 1, "star": 2}
    up = int((moved["segment"].map(ranks) > moved["previous_segment"].map(ranks)).sum())
    assert f"{up} moved up the ladder" in page


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_changes_come_from_the_previous_scoring_and_the_first_scoring_says_so(lang: str) -> None:
    """Compared with a real previous scoring: its date in the header and the 'since' columns, each partner's
    trend arrow and change in points under the risk, since when it is high. With none: 'first scoring',
    no made-up flows or changes."""
    t = TEXT[lang]
    scored = scored_frame(200, seed=5)
    scored.loc[0, ["risk_band", "deactivation_risk", "risk_trend", "previous_risk", "risk_change"]] = ["high", 0.62, "↑", 0.47, 0.15]
    scored.loc[0, ["high_band_since", "weeks_in_high_band"]] = [AS_OF - 21 * DAY, 3]
    page = render(scored, lang=lang, previous=scored)
    since = "22.02.2026" if lang == "ru" else "2026-02-22"
    assert t["previous_scoring"].format(date=since) in page and f"{t['vs_previous']} ({since})" in page
    first = parse(page).top_rows[0]
    assert first[1] == scored.loc[0, "partner_id"]
    high_since = "08.02.2026" if lang == "ru" else "2026-02-08"
    was = "47\u00a0%" if lang == "ru" else "47%"
    assert first[4].endswith("↑ " + t["points"].format(value="+15", previous=was) + t["high_since"].format(date=high_since, weeks="3")), first[4]
    shown = {row[1]: row[4] for row in parse(page).top_rows}
    head = scored.set_index("partner_id")
    assert all((isinstance(head.loc[p, "risk_trend"], str)) == any(a in cell for a in "↑↓→") for p, cell in shown.items())

    alone = scored.assign(segment_change="first_scoring", previous_segment=None, previous_risk=np.nan, risk_change=np.nan, risk_trend=None)
    page = render(alone, lang=lang)
    assert t["first_scoring_meta"] in page and t["first_flows"] in page and t["vs_previous"] not in page
    assert 'class="matrix"' not in page  # no flows table of partners all "new"
    rows = parse(page).top_rows
    assert all(row[3].startswith(t["first_scoring"]) for row in rows) and not any(arrow in row[4] for row in rows for arrow in "↑↓→")


def test_empty_risk_list_still_renders_and_bad_input_is_refused() -> None:
    empty = pd.DataFrame(columns=RISK_LIST_COLUMNS + DETAIL_COLUMNS)
    page = render(empty)
    assert "No partners were scored." in page and parse(page).top_rows == []
    with pytest.raises(ValueError, match="report language 'de'"):
        render(scored_frame(5), lang="de")
    with pytest.raises(InputError, match="lacks column.*expected_revenue"):
        render(scored_frame(5).drop(columns=["expected_revenue"]))


def test_the_report_reads_only_columns_of_the_risk_list() -> None:
    assert set(REQUIRED_COLUMNS) <= set(RISK_LIST_COLUMNS + DETAIL_COLUMNS)


# ---------------------------------------------------------------------------------------------------
# Actions that work: what `partner-churn effects` measured

EVIL_ACTION = "<img src=x onerror=alert(1)>"
"""An action code as the action log may hold it: shown as text, never markup."""
QINI_CURVE = [0.03 * (k / 20) * (1.4 - k / 20) - (0.004 if k == 1 else 0.0) for k in range(21)]
"""Q/n at 0, 5, ..., 100% targeted: a dip below 0, then above random targeting's line, ending at 0.012."""


def effect_rows() -> pd.DataFrame:
    """Hand-made rows of `retention.effect_rows.action_rows`' shape, one verdict of each kind:
    personal_check_in works for workhorses (5% silent against 40%) and shows nothing for stars (10% in both);
    reactivation_offer harms its one segment (50% silent against 20%); never_held_out was logged without a holdout;
    EVIL_ACTION has 10 rows held out (too few). Half of every arm in the high risk band (band rows the report leaves out)."""

    def cell(action: str, segment: str, treated: tuple[int, int], held: tuple[int, int] | None) -> pd.DataFrame:
        (n_t, silent_t), (n_h, silent_h) = treated, held or (0, 0)
        silent = np.array([1.0] * silent_t + [0.0] * (n_t - silent_t) + [1.0] * silent_h + [0.0] * (n_h - silent_h))
        holdout = pd.array([False] * n_t + [True] * n_h, dtype="boolean")
        band = np.where(np.arange(n_t + n_h) % 2 == 0, "high", "low")
        return pd.DataFrame(
            {"action": action, "holdout": holdout, "segment": segment, "risk_band": band, "silent": silent, "revenue": 100 * (1 - silent)}
        )

    return pd.concat(
        [
            cell("personal_check_in", "star", (200, 20), (50, 5)),
            cell("personal_check_in", "workhorse", (400, 20), (100, 40)),
            cell("reactivation_offer", "sleeper", (100, 50), (40, 8)),
            cell("never_held_out", "newbie", (120, 30), None),
            cell(EVIL_ACTION, "newbie", (40, 20), (10, 5)),
        ],
        ignore_index=True,
    )


def evaluation(action: str, qini: float, low: float, high: float, curve: list[float]) -> dict[str, object]:
    """An evaluation record as `partner-churn effects` writes it (`retention.measure.evaluation_record`)."""
    from retention.measure import evaluation_record
    from training.uplift import UpliftEvaluation

    judged = UpliftEvaluation(
        action=action,
        split="2026-01-15T00:00:00+00:00",
        train_rows={"contacted": 400, "held_out": 100},
        test_rows={"contacted": 170, "held_out": 40},
        qini=qini,
        qini_low=low,
        qini_high=high,
        uplift_at={0.1: 0.2, 0.3: float("nan")},
        effect=0.1,
        curve=curve,
    )
    return evaluation_record(judged)


def measured_effects(folder: Path, *, with_uplift: bool = True) -> MeasuredEffects:
    """The effects table of `effect_rows` and two evaluations written as `partner-churn effects` writes them
    (measured on 2026-02-20), read back as the scoring reads them."""
    measured_on = AS_OF - 9 * DAY
    table = estimate_effects(effect_rows(), EffectsConfig())
    path = effects_file(folder, measured_on)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(table.to_csv(index=False), encoding="utf-8")
    if with_uplift:
        records = [
            evaluation("personal_check_in", 0.0123, 0.004, 0.0201, QINI_CURVE),
            evaluation(EVIL_ACTION, -0.001, -0.006, 0.003, [0.0] * 21),
        ]
        skipped = ["reactivation_offer: 100 contacted and 40 held out with an outcome: too few to learn and judge an uplift model"]
        uplift_file(folder, measured_on).write_text(uplift_json(records, skipped, as_of=measured_on, confidence=0.95, horizon_days=30))
    effects = latest_effects(folder, AS_OF)
    assert effects is not None and effects.as_of == measured_on
    return effects


class _Effects(HTMLParser):
    """The effects table's rows (action title, then the cells' texts with their classes) and the Qini charts'
    curve points and random line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[tuple[str, str]]] = []
        self.charts: list[dict[str, object]] = []
        self._in_table = False
        self._cell: list[str] | None = None
        self._class = ""
        self._action = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id") == "effects":
            self._in_table = True
        if self._in_table and tag == "tr" and self.rows is not None:
            self.rows.append([])
        if self._in_table and tag in ("td", "th"):
            self._cell, self._class = [], attributes.get("class") or ""
        if tag == "svg" and attributes.get("class") == "qini":
            self.charts.append({"title": attributes.get("aria-label")})
        if tag == "polyline" and self.charts:
            self.charts[-1]["points"] = [tuple(float(v) for v in point.split(",")) for point in (attributes["points"] or "").split()]
        if tag == "line" and attributes.get("class") == "random" and self.charts:
            self.charts[-1]["random"] = tuple(float(attributes[k] or "nan") for k in ("x1", "y1", "x2", "y2"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(("".join(self._cell).strip(), self._class))
            self._cell = None
        if tag == "table":
            self._in_table = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def effects_view(page: str) -> tuple[list[list[str]], list[list[str]], list[dict[str, object]]]:
    """The effects table's body rows as [action, segment, contacted, held out, silence, verdict, revenue,
    verdict] (the action carried down its rows), their cells' classes, and the Qini charts."""
    parsed = _Effects()
    parsed.feed(page)
    rows, classes, action = [], [], ""
    for row in parsed.rows[1:]:  # the first is the header
        if len(row) == 8:
            action = row[0][0]
            row = row[1:]
        rows.append([action, *(text for text, _ in row)])
        classes.append([kind for _, kind in row])
    return rows, classes, parsed.charts


def section_text(page: str) -> str:
    start = page.index('<section id="actions">')
    return " ".join(piece.strip() for piece in Links(page[start : page.index("</section>", start)]).text if piece.strip())


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_actions_that_work_shows_every_cell_with_its_verdicts_in_words(tmp_path: Path, lang: str) -> None:
    t = TEXT[lang]
    effects = measured_effects(tmp_path)
    titles = {"personal_check_in": "Personal check-in" if lang == "en" else "Личный звонок"}
    page = render(scored_frame(40), lang=lang, effects=effects, action_titles=titles)
    parsed = parse(page)
    assert t["effects"] in parsed.headings
    assert parsed.headings.index(t["value"]) + 1 == parsed.headings.index(t["effects"])  # right after revenue at risk
    rows, classes, _ = effects_view(page)

    # The reference: every action x segment cell (no band rows), the `all` row of a one-segment action left out.
    table = effects.table[effects.table["risk_band"] == "all"]
    single = {a for a, g in table.groupby("action") if (g["segment"] != "all").sum() == 1}
    expected = table[~(table["action"].isin(single) & (table["segment"] == "all"))]
    assert len(expected) == 6 and list(expected["action"]) == [EVIL_ACTION, "never_held_out", *["personal_check_in"] * 3, "reactivation_offer"]
    assert [row[0] for row in rows] == [titles.get(a, a) for a in expected["action"]]  # the action table's title, else the code
    names = {"all": t["all_segments"], **SEGMENT_NAMES[lang]}
    assert [row[1] for row in rows] == [names[s] for s in expected["segment"]]
    assert [row[2] for row in rows] == [str(n) for n in expected["n_treated"]] and [row[3] for row in rows] == [str(n) for n in expected["n_holdout"]]
    assert [row[5] for row in rows] == [t["verdicts"][v] for v in expected["silent_verdict"]]
    assert [row[7] for row in rows] == [t["verdicts"][v] for v in expected["revenue_verdict"]]
    assert {*expected["silent_verdict"], *expected["revenue_verdict"]} == {"works", "harms", "no evidence", "too few rows", "no holdout"}
    assert [c[4] for c in classes] == ["verdict " + v.replace(" ", "-") for v in expected["silent_verdict"]]

    # Figures in the report's formats: percentage points with an interval, revenue per partner.
    workhorse = rows[4]
    assert workhorse[1] == SEGMENT_NAMES[lang]["workhorse"]
    row = expected.iloc[4]
    if lang == "en":
        assert (
            workhorse[4] == f"\u2212{-100 * row['silent_effect']:.1f} [\u2212{-100 * row['silent_low']:.1f}, \u2212{-100 * row['silent_high']:.1f}]"
        )
        assert workhorse[4] == "\u221235.0 [\u221245.0, \u221225.6]" and "95% interval" in page
    else:
        assert workhorse[4] == "\u221235,0 [\u221245,0; \u221225,6]" and "интервал 95\u00a0%" in page
    assert workhorse[6].startswith("+35 [+") and rows[0][4] == rows[0][6] == "—"  # too few rows: no figure

    text = section_text(page)
    assert t["effects_note"].format(date="20.02.2026" if lang == "ru" else "2026-02-20", days=30) in text
    assert t["rule_line"] in text  # nobody got a measured action in this scoring
    assert t["qini_skipped"].format(actions="reactivation_offer") in text


def test_qini_charts_draw_the_curve_and_random_targeting(tmp_path: Path) -> None:
    effects = measured_effects(tmp_path)
    page = render(scored_frame(40), effects=effects, action_titles={"personal_check_in": "Personal check-in"})
    _, _, charts = effects_view(page)
    assert len(charts) == 2 and page.count('<svg class="qini"') == 2
    check_in, evil = charts
    assert str(check_in["title"]).startswith("Personal check-in: Qini coefficient +0.0123 [+0.0040, +0.0201], beats random targeting")
    assert str(evil["title"]).startswith(f"{EVIL_ACTION}: Qini coefficient \u22120.0010 [\u22120.0060, +0.0030], does not beat random targeting")
    points = np.array(check_in["points"])
    assert points.shape == (21, 2)
    x, y = points[:, 0], points[:, 1]
    assert np.allclose(np.diff(x), np.diff(x)[0], atol=0.11) and np.diff(x)[0] > 0  # 0, 5, ..., 100% targeted, evenly
    slope, intercept = np.polyfit(QINI_CURVE, y, 1)
    assert slope < 0 and np.abs(intercept + slope * np.array(QINI_CURVE) - y).max() < 0.06  # y is Q/n, upwards, to the pixel's rounding
    x1, y1, x2, y2 = check_in["random"]  # type: ignore[misc]
    assert (x1, y1) == tuple(points[0]) and (x2, y2) == tuple(points[-1])  # from nothing to the curve's last point: random targeting
    assert y1 == pytest.approx(intercept, abs=0.06)  # the first point is Q = 0
    text = section_text(page)
    assert "Personal check-in Qini coefficient +0.0123 [+0.0040, +0.0201] beats random targeting" in text
    ru = render(scored_frame(40), lang="ru", effects=effects)
    assert "Коэффициент Qini +0,0123 [+0,0040; +0,0201] лучше случайного выбора" in section_text(ru)
    assert "не лучше случайного выбора" in section_text(ru)


def test_a_model_short_of_the_gate_says_how_many_test_rows_its_qini_would_need(tmp_path: Path) -> None:
    """Above 0 but with an interval reaching below it: about 3.5 times the 210 test rows (the normal
    approximation of the interval's lower side, tests/test_power.py); nothing of the kind for a model that beats random or one below 0."""
    measured_on = AS_OF - 9 * DAY
    table = estimate_effects(effect_rows(), EffectsConfig())
    effects_file(tmp_path, measured_on).parent.mkdir(parents=True, exist_ok=True)
    effects_file(tmp_path, measured_on).write_text(table.to_csv(index=False), encoding="utf-8")
    records = [
        evaluation("personal_check_in", 0.003, -0.0009, 0.0066, QINI_CURVE),
        evaluation("reactivation_offer", 0.0123, 0.004, 0.0201, QINI_CURVE),
        evaluation(EVIL_ACTION, -0.001, -0.006, 0.003, [0.0] * 21),
        evaluation("onboarding_series", 0.00001, -0.006, 0.006, [0.0] * 21),  # needs billions of rows: said as too small
    ]
    assert [r["rows_to_beat_random"] for r in records][:3] == [726, None, None] and records[3]["rows_to_beat_random"] > 100 * 210
    uplift_file(tmp_path, measured_on).write_text(uplift_json(records, [], as_of=measured_on, confidence=0.95, horizon_days=30))
    effects = latest_effects(tmp_path, AS_OF)
    en, ru = (section_text(render(scored_frame(40), lang=lang, effects=effects)) for lang in ("en", "ru"))
    assert en.count("If its Qini held") == 1 and "about 3.5 times these test rows (726) would show it beating random targeting 8 times in 10" in en
    assert (
        ru.count("Если коэффициент Qini сохранится") == 1
        and "понадобится примерно в 3,5 раза больше проверочных строк (726), чтобы в 8 случаях из 10" in ru
    )
    assert "Its Qini is too small to tell from random targeting (more than 100 times these test rows would be needed)." in en
    assert "Коэффициент Qini слишком мал, чтобы отличить модель от случайного выбора (понадобилось бы более чем в 100 раз" in ru


def test_an_action_code_with_html_is_text(tmp_path: Path) -> None:
    page = render(scored_frame(40), effects=measured_effects(tmp_path))
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    rows, _, charts = effects_view(page)
    assert rows[0][0] == EVIL_ACTION and str(charts[1]["title"]).startswith(EVIL_ACTION)
    assert not [a for a in parse(page).attributes if a[1] in ("src", "onerror")]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_without_effects_the_section_says_so_in_one_line(lang: str) -> None:
    page = render(scored_frame(40), lang=lang)
    assert TEXT[lang]["effects"] in parse(page).headings
    assert section_text(page) == f"{TEXT[lang]['effects']} {TEXT[lang]['no_effects']}"
    assert 'id="effects"' not in page and page.count('<svg class="qini"') == 0


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_scoring_line_counts_measured_actions_and_their_saved_revenue(tmp_path: Path, lang: str) -> None:
    scored = scored_frame(40)
    scored["action_basis"] = "rule"
    scored.loc[:2, "action_basis"] = "measured"
    scored.loc[:2, "expected_saved_revenue"] = [1500.0, 2000.0, 250.4]
    text = section_text(render(scored, lang=lang, effects=measured_effects(tmp_path)))
    total = "3\u00a0750" if lang == "ru" else "3,750"
    assert TEXT[lang]["measured_line"].format(n=3, value=total, days=30) in text
    assert TEXT[lang]["rule_line"] not in text


def test_latest_effects_reads_the_latest_measurement_at_or_before_the_scoring(tmp_path: Path) -> None:
    assert latest_effects(tmp_path, AS_OF) is None  # no folder
    table = estimate_effects(effect_rows(), EffectsConfig())
    folder = tmp_path / "effects"
    folder.mkdir()
    assert latest_effects(tmp_path, AS_OF) is None  # an empty folder
    for day in ("2026-02-01", "2026-03-01", "2026-03-05"):
        (folder / f"effects_{day}.csv").write_text(table.assign(n_treated=int(day[-2:])).to_csv(index=False))
    (folder / "effects_notes.csv").write_text("whatever")  # not the command's: left alone
    found = latest_effects(tmp_path, AS_OF)
    assert found is not None and found.as_of == AS_OF and (found.table["n_treated"] == 1).all()  # the scoring's own day counts
    assert not found.evaluated and found.evaluations == [] and found.confidence is None  # no uplift file beside it
    pd.testing.assert_frame_equal(found.table.drop(columns="n_treated"), table.drop(columns="n_treated"), check_dtype=False)
    assert latest_effects(tmp_path, AS_OF - DAY).as_of == pd.Timestamp("2026-02-01", tz="UTC")  # type: ignore[union-attr]
    assert latest_effects(tmp_path, pd.Timestamp("2026-01-31", tz="UTC")) is None

    record = evaluation("personal_check_in", 0.01, float("nan"), 0.02, QINI_CURVE)
    text = uplift_json([record], ["x: too few"], as_of=AS_OF, confidence=0.9, horizon_days=14)
    assert "NaN" not in text  # strict JSON: a missing figure is null
    (folder / "uplift_2026-03-01.json").write_text(text)
    found = latest_effects(tmp_path, AS_OF)
    assert found is not None and found.evaluated and found.confidence == 0.9 and found.horizon_days == 14 and found.skipped == ["x: too few"]
    (read,) = found.evaluations
    assert read["action"] == "personal_check_in" and read["curve"] == pytest.approx(QINI_CURVE) and np.isnan(read["qini_low"])
    page = render(scored_frame(10), effects=found)
    assert "90% interval" in page and "over the 14 days" in page


def test_without_uplift_evaluations_the_table_still_shows(tmp_path: Path) -> None:
    page = render(scored_frame(10), effects=measured_effects(tmp_path, with_uplift=False))
    assert len(effects_view(page)[0]) == 6 and TEXT["en"]["qini_missing"] in page and page.count('<svg class="qini"') == 0
    assert "[interval]" in page  # the level is the uplift file's: unknown without it


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("effects_2026-02-20.csv", "not,an\neffects,table\n", "not an effects table"),
        ("effects_2026-02-20.csv", "", "cannot read the effects table"),
        ("uplift_2026-02-20.json", "{not json", "cannot read the uplift evaluations"),
        ("uplift_2026-02-20.json", '{"evaluations": [{"qini": 1}]}', "an evaluation without its action"),
        ("uplift_2026-02-20.json", '{"evaluations": [{"action": "a", "curve": ["x"]}]}', "no number"),
    ],
)
def test_a_damaged_effects_file_is_one_line_naming_it(tmp_path: Path, name: str, content: str, fragment: str) -> None:
    measured_effects(tmp_path)
    path = tmp_path / "effects" / name
    path.write_text(content)
    with pytest.raises(InputError, match=re.escape(fragment)) as caught:
        latest_effects(tmp_path, AS_OF)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


# ---------------------------------------------------------------------------------------------------
# In a real browser


def run_chromium(page: Path, profile: Path) -> tuple[str, list[str]]:
    """Chromium's DOM of the page after loading it, and the console messages it logged."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is not on PATH: run scripts/install_browser.sh (installs Debian's chromium) and test again")
    result = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"chromium exited {result.returncode}: {result.stderr[-2000:]}"
    console = [line for line in result.stderr.splitlines() if CONSOLE_LINE.search(line) or "Uncaught" in line]
    return result.stdout, console


def test_chromium_renders_the_report_without_console_messages(tmp_path: Path) -> None:
    scored = scored_frame(80, seed=9, reasons=f"{MALICIOUS} | no clicks for 12 days")
    page = tmp_path / "report.html"
    page.write_text(render(scored, lang="ru", previous=scored, effects=measured_effects(tmp_path / "reports")), encoding="utf-8")
    dom, console = run_chromium(page, tmp_path / "profile")
    assert console == [], "console messages from the report:\n" + "\n".join(console)
    rendered = parse(dom)
    assert rendered.top_rows[0][1] == scored["partner_id"].iloc[0]
    assert len(rendered.top_rows) == 50
    ru = TEXT["ru"]
    for heading in (ru["kpis"], ru["segments"], ru["flows"], ru["risk"], ru["value"], ru["effects"], ru["top"].format(n=50), ru["definitions"]):
        assert heading in rendered.headings
    assert rendered.scripts == 0 and "alert(1)" in dom and MALICIOUS not in dom
    rows, _, charts = effects_view(dom)
    assert len(rows) == 6 and len(charts) == 2 and "<img" not in dom  # the action code with markup stays text in the DOM

    # The detector itself, on this chromium: a page that logs and throws must be caught.
    broken = tmp_path / "broken.html"
    broken.write_text('<!DOCTYPE html><html><body><h1>x</h1><script>console.error("boom"); missing();</script></body></html>', encoding="utf-8")
    _, caught = run_chromium(broken, tmp_path / "profile-broken")
    assert any("boom" in line for line in caught) and any("Uncaught" in line for line in caught), caught


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_at_1366_px_the_report_and_its_top_table_fit_the_window(tmp_path: Path, lang: str) -> None:
    """Rendered in chromium 1366 px wide (a manager's laptop): no horizontal scrolling of the page, the top
    table no wider than its box, and the page's text in its language."""
    from tests.support import LAYOUT, browser_facts

    scored = scored_frame(80, seed=4, reasons="no clicks for 12 days after 30 the month before | revenue down 64% on the previous 30 days")
    scored["owner"] = np.where(np.arange(len(scored)) % 2, "retention_team", "partner_manager")  # contacts today: the first table
    page = tmp_path / f"report.{lang}.html"
    page.write_text(render(scored, lang=lang, previous=scored, effects=measured_effects(tmp_path / "reports")), encoding="utf-8")
    facts = browser_facts(page, tmp_path / "profile", LAYOUT % "#top-partners")
    assert facts["page"] <= facts["window"] == 1366, facts
    assert 0 < facts["table"] <= facts["box"], facts
    today = browser_facts(page, tmp_path / "profile-today", LAYOUT % "table.today")
    assert 0 < today["table"] <= today["box"], today
    effects = browser_facts(page, tmp_path / "profile-effects", LAYOUT % "#effects")
    assert 0 < effects["table"] <= effects["box"], effects
    assert TEXT[lang]["effects"] in facts["text"]
    assert facts["lang"] == lang and TEXT[lang]["top"].format(n=50) in facts["text"]
    assert scored["partner_id"].iloc[0] in facts["text"]
    # The measure itself: a table wider than its box, on a page wider than the window, is caught.
    wide = tmp_path / "wide.html"
    wide.write_text(
        '<!DOCTYPE html><html lang="en"><body><div style="width:600px;overflow-x:auto"><table id="top-partners">'
        '<tr><td style="min-width:2000px">x</td></tr></table></div><div style="width:1500px">y</div></body></html>'
    )
    caught = browser_facts(wide, tmp_path / "profile-wide", LAYOUT % "#top-partners")
    assert caught["table"] > caught["box"] and caught["page"] > caught["window"], caught


# ---------------------------------------------------------------------------------------------------
# The manager's spreadsheet and the printed top 10, in the scoring's language


def manager_frame(n: int = 150, seed: int = 3, *, lang: str = "ru") -> pd.DataFrame:
    """`scored_frame` with every owner and channel, some rows worth nothing, and texts in `lang` as the
    scorer writes them."""
    from typing import get_args

    from retention.actions import Channel, Owner

    frame = scored_frame(n, seed=seed)
    rng = np.random.default_rng(seed)
    frame["owner"] = rng.choice(list(get_args(Owner)), size=n)
    frame["channel"] = rng.choice(list(get_args(Channel)), size=n)
    frame["trained_through"] = "2026-01-30"
    frame["action_basis"] = np.where(np.arange(n) % 3 == 0, "measured", "rule")
    frame["expected_saved_revenue"] = np.where(frame["action_basis"] == "measured", np.round(rng.gamma(1.0, 300.0, size=n), 2), np.nan)
    frame.loc[frame.index[-10:], ["value_at_risk", "expected_revenue"]] = 0.0  # worth nothing: nobody's contact
    if lang == "ru":
        frame["action_title"], frame["action_description"] = "Позвонить партнёру", "Спросить, что мешает работать."
        frame["reasons"] = "нет кликов за 12 дней | выручка 1 200 за последние 90 дней"
    return frame


def english_vocabulary() -> set[str]:
    """Every header, sheet name and named value the English spreadsheet uses, and the codes behind them."""
    from serving.outputs import COLUMN_WORDS, DEFINITIONS_HEADER, SHEET_NAMES
    from serving.words import ACTION_BASIS_NAMES, CHANNEL_NAMES, OWNER_NAMES, SEGMENT_NAMES

    words = {*COLUMN_WORDS, *(w["en"][0] for w in COLUMN_WORDS.values()), *SHEET_NAMES["en"], *SHEET_NAMES["en"].values()}
    words |= {*DEFINITIONS_HEADER["en"], TEXT["en"]["new"], TEXT["en"]["first_scoring"]}
    for table in (SEGMENT_NAMES, OWNER_NAMES, CHANNEL_NAMES, ACTION_BASIS_NAMES, {lang: TEXT[lang]["bands"] for lang in TEXT}):
        words |= {*table["en"], *table["en"].values()}
    return {word.lower() for word in words}


def test_the_russian_spreadsheet_has_no_english_header_or_value(tmp_path: Path) -> None:
    from serving.outputs import write_scoring

    vocabulary = english_vocabulary()
    for lang in ("en", "ru"):
        scored = manager_frame(lang=lang)
        folder = write_scoring(scored, "<html></html>", tmp_path / lang, AS_OF, {"active_partners": 1}, lang=lang)
        sheets, texts = workbook_strings(folder / f"risk_list.{lang}.xlsx")
        english = {text for text in [*sheets, *texts] if text.lower() in vocabulary}
        if lang == "en":  # the detector itself: the English book is full of these words
            assert {"This week", "Risk list", "Definitions", "Value at risk", "Workhorse", "Phone", "Retention team", "high"} <= english
            assert {"Chosen by", "Expected saved revenue", "Measured effect", "Action table"} <= english
        else:
            assert english == set(), english
            assert sheets == ["Контакты недели", "Список риска", "Определения"]
            assert {"Ценность под риском", "Рабочая лошадка", "Телефон", "Команда удержания", "высокий", "новый"} <= set(texts)
            assert {"Основание выбора", "Ожидаемая сохранённая выручка", "Измеренный эффект", "Таблица действий"} <= set(texts)
        assert len(pd.read_parquet(folder / "risk_list.parquet")) == len(scored)  # every partner, worth something or not


def test_spreadsheet_sheets_name_every_code_define_every_column_and_skip_contacts_worth_nothing() -> None:
    from retention.measured import ACTION_BASES
    from serving.outputs import (
        COLUMN_WORDS,
        DEFINITIONS_SHEET,
        RISK_LIST_SHEET,
        SHEET_NAMES,
        SPREADSHEET_COLUMNS,
        TODAY_SHEET,
        spreadsheet_sheets,
    )
    from serving.today import CONTACT_COLUMNS, contacts_due
    from serving.words import ACTION_BASIS_NAMES, CHANNEL_NAMES, OWNER_NAMES, SEGMENT_NAMES

    assert all(set(words) == set(TEXT) for words in COLUMN_WORDS.values())
    assert set(SPREADSHEET_COLUMNS) | set(CONTACT_COLUMNS) <= set(COLUMN_WORDS)
    assert SPREADSHEET_COLUMNS.index("action_basis") == SPREADSHEET_COLUMNS.index("action_title") + 1
    assert SPREADSHEET_COLUMNS.index("expected_saved_revenue") == SPREADSHEET_COLUMNS.index("action_title") + 2
    assert all(set(names) == set(ACTION_BASES) for names in ACTION_BASIS_NAMES.values())
    scored = manager_frame()
    sheets = spreadsheet_sheets(scored, contacts_due(scored, AS_OF), "ru")
    today, risk_list, definitions = sheets[TODAY_SHEET], sheets[RISK_LIST_SHEET], sheets[DEFINITIONS_SHEET]
    words = {column: COLUMN_WORDS[column]["ru"][0] for column in COLUMN_WORDS}

    assert len(today) > 0 and len(risk_list) == len(scored)
    worth = today[words["value_at_risk"]].fillna(0).gt(0) | today[words["expected_revenue"]].fillna(0).gt(0)
    assert worth.all()  # no contact worth 0 in the today sheet
    nothing = set(scored.loc[scored["value_at_risk"].eq(0) & scored["expected_revenue"].eq(0), "partner_id"])
    assert nothing and not nothing & set(today[words["partner_id"]])
    assert set(today[words["owner"]]) <= set(OWNER_NAMES["ru"].values()) - {OWNER_NAMES["ru"]["automation"]}
    assert set(today[words["channel"]]) <= set(CHANNEL_NAMES["ru"].values())
    assert set(risk_list[words["segment"]]) == set(SEGMENT_NAMES["ru"].values())
    assert set(risk_list[words["previous_segment"]]) <= {*SEGMENT_NAMES["ru"].values(), TEXT["ru"]["new"]}
    first = scored.assign(segment_change="first_scoring", previous_segment=None)
    named = spreadsheet_sheets(first, contacts_due(first, AS_OF), "ru")[RISK_LIST_SHEET]
    assert set(named[words["previous_segment"]]) == {TEXT["ru"]["first_scoring"]}  # not 'new': nothing was scored before
    assert set(risk_list[words["risk_trend"]].dropna()) == {"↑", "↓", "→"}
    assert set(risk_list[words["risk_band"]]) <= set(TEXT["ru"]["bands"].values())
    assert set(risk_list[words["action_basis"]]) == set(ACTION_BASIS_NAMES["ru"].values())  # both bases, in Russian
    measured = (scored["action_basis"] == "measured").to_numpy()
    saved = risk_list[words["expected_saved_revenue"]].to_numpy(dtype=float)
    assert np.allclose(saved[measured], scored.loc[measured, "expected_saved_revenue"]) and np.isnan(saved[~measured]).all()
    english = spreadsheet_sheets(scored, contacts_due(scored, AS_OF), "en")[RISK_LIST_SHEET]
    assert set(english["Chosen by"]) == {"Measured effect", "Action table"} and "Expected saved revenue" in english
    assert words["partner_id"] in today.columns and "action" not in risk_list.columns  # the code is in the CSV

    defined = dict(zip(definitions.iloc[:, 0], definitions.iloc[:, 1]))
    shown = {*today.columns, *risk_list.columns, *SHEET_NAMES["ru"].values()}
    assert set(defined) == shown and all(re.search("[а-я]", meaning) for meaning in defined.values())


def test_the_printed_top_10_is_in_the_scoring_language() -> None:
    from serving.outputs import console_top

    vocabulary = english_vocabulary()
    top = console_top(manager_frame(), "ru")
    assert len(top) == 10 and top.columns[0] == "ID партнёра"
    assert not [c for c in top.columns if c.lower() in vocabulary]
    assert not [v for v in top.select_dtypes(object).to_numpy().ravel() if str(v).lower() in vocabulary]
    assert list(console_top(manager_frame(lang="en"), "en").columns[:2]) == ["Partner ID", "Segment"]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_owner_kpis_show_a_month_and_three_months_earlier_with_a_trend_line(lang: str) -> None:
    page = render(scored_frame(30), lang=lang)
    t, fmt = TEXT[lang], ReportFormatter(lang)
    for label in (t["active_partners"], t["churn_rate"], t["existing_revenue"], t["ltv"], t["nps"], t["first_result"]):
        assert f'<div class="kpi-label">{label}</div>' in page
    # Active partners rose 5,000 -> 5,500 before 6,047 now; LTV is known from three months back only.
    assert t["trend_line"].format(month=fmt.number(5500), quarter=fmt.number(5300)) in page
    assert t["trend_line"].format(month=fmt.number(9e6 + 5), quarter=fmt.number(9e6 + 3)) in page
    sparks = re.findall(r'<svg class="spark".*?</svg>', page, re.S)
    assert len(sparks) == 6
    ltv_spark = next(s for s in sparks if t["ltv"] in s)
    assert ltv_spark.count("<polyline") == 1 and len(re.search(r'points="([^"]+)"', ltv_spark).group(1).split()) == 4  # type: ignore[union-attr]
    assert t["owner"] in page and t["ltv_unavailable"] in page and t["nps_none"] in page  # no LTV table, no surveys in this fixture


def test_spreadsheet_cells_keep_their_kinds_and_leave_missing_values_empty(tmp_path: Path) -> None:
    """The cells written without pandas' to_excel: a number stays a number (inf as pandas' text), a flag a
    boolean, a time a date-formatted number, text shared text, and a missing value no cell at all."""
    import zipfile

    from serving.outputs import _write_cells

    frame = pd.DataFrame(
        {
            "number": [0.25, np.nan, np.inf],
            "count": pd.array([3, None, 5], dtype="Int64"),
            "flag": [True, False, True],
            "when": pd.to_datetime(["2026-06-01 12:30", None, "2026-06-03 00:00"]),
            "text": ["a & b", None, "c"],
        }
    )
    path = tmp_path / "cells.xlsx"
    import xlsxwriter

    with xlsxwriter.Workbook(str(path)) as book:
        page, day = book.add_worksheet("s"), book.add_format({"num_format": "yyyy-mm-dd"})
        for position, column in enumerate(frame.columns):
            _write_cells(page, position, frame[column], day)
    with zipfile.ZipFile(path) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        styles = book.read("xl/styles.xml").decode()
    cells = dict(re.findall(r'<c r="([A-Z]+\d+)"(.*?)</c>', sheet))
    assert sorted(cells) == ["A2", "A4", "B2", "B4", "C2", "C3", "C4", "D2", "D4", "E2", "E4"]  # row 3's missing values: no cell
    assert "<v>0.25</v>" in cells["A2"] and 't="s"' in cells["A4"]  # inf is text, as pandas writes it
    assert "<v>3</v>" in cells["B2"] and 't="b"' in cells["C2"] and "<v>0</v>" in cells["C3"]
    assert 's="1"' in cells["D2"] and "<v>46174.520833333" in cells["D2"] and 'formatCode="yyyy-mm-dd"' in styles
    assert 't="s"' in cells["E2"]


def test_risk_list_csv_words_times_as_pandas_does() -> None:
    """Times are worded once per distinct value before the CSV is written: the text must be pandas' own, byte
    for byte, for zones, missing times, fractions of a second and both units."""
    from serving.outputs import _with_times_as_text

    frame = pd.DataFrame(
        {
            "partner_id": ["a", "b", "c", "d"],
            "as_of": pd.to_datetime(["2026-07-01", "2026-07-01", "2026-07-01 12:34:56.789123", None], utc=True, format="ISO8601"),
            "scored_at": pd.to_datetime(["2026-07-01 06:00", None, "2026-07-02", "2026-07-02"], utc=True, format="ISO8601").astype(
                "datetime64[us, UTC]"
            ),
            "naive": pd.to_datetime(["2026-01-01", "2026-01-02 03:04:05", None, "2026-01-01"], format="ISO8601"),
            "naive_days": pd.to_datetime(["2026-01-01", "2026-01-02", None, "2026-01-01"]),
            "midnights": pd.to_datetime(["2026-01-01", "2026-01-02", None, "2026-01-01"], utc=True),
            "risk": [0.123456789, np.nan, 1e7 / 3, 0.0],
        }
    )
    worded = _with_times_as_text(frame)
    assert worded.to_csv(index=False, float_format="%.6g") == frame.to_csv(index=False, float_format="%.6g")
    assert worded["as_of"].tolist()[2:] == ["2026-07-01 12:34:56.789123+00:00", ""]
