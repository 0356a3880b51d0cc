"""Benchmark: how much of a scoring's reasons is filler, overall and in the top 100 of the risk list.

A reason is a slot a manager reads; filler is a slot that gives nothing to act on. Each sentence of
the risk list's `reasons` column is put in at most one filler class, checked in this order:

- tenure: it says only how long the partner has been in the program ("in the program for 8 months",
  "joined less than a day ago"; "в программе 8 месяцев");
- constant: a fixed attribute (partner type, country, any other declared attribute) or early history
  that no action changes any more (onboarding actions, days to the first link/lead/sale) of a partner
  in the program for `EARLY_DAYS` days or more;
- wrong direction: a trend or weekly slope that rose or stayed flat, given as a reason for risk (or
  fell, given as a reason to grow): "clicks changed +109% vs the previous month";
- typical: the partner's value is not beyond the typical range on the side the score is explained by:
  for risk, a silence, gap or amount owed no longer than the 75th percentile of the partner's segment,
  or a count, amount, share, active days, conversion or trend no lower than the 25th percentile (for
  upgrade potential, the other way round). Good news ("last activity less than a day ago") is typical
  by this rule too. The quartiles are those of this scoring's partners of the same segment (active ones
  for risk reasons), recomputed here from the data: an independent yardstick. The reasons code applies
  the quartiles of the model's training rows (all its cutoffs; a median band for models saved before
  quartiles were kept), so what this class still finds in a new model's model-based reasons is where the two
  populations differ.

The typical and wrong-direction classes apply to the reasons of rows a model explains: model-based
reasons (reasons_source risk_model, potential_model), which claim to be drivers of a score, and the facts
a row the model was asked to explain fell back to when no driver was worth a slot (they are then shown
as why the partner is at risk). Facts of partners whose action follows from their segment state the
partner's own history and are checked for tenure and constant filler only. Figures are printed for
model-based reasons, for all rows a model explains, for the top 100 rows, for facts and for everything.

To know which feature a sentence speaks for, each one is matched with the feature sentences of the
reasons code in use (`describe_feature`), on the text before any "(typical: ...)" and before a
"; usually ..." clause: run it with the code that wrote the list (it imports only names every version
of `retention.reasons` has, and keeps its own constants, so it measures old and new code alike).

Run: `.venv/bin/python -m bench.reasons_filler /tmp/reasons-after/2026-07-01 --data work/demo/data [--show 5]`
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.contract import load_program
from features.pipeline import build_features
from features.schema import feature_schema
from partner_churn.config import Config, load_config
from partner_churn.domain import active_mask
from retention.reasons import describe_feature, template_family

EARLY_DAYS = 30
"""Past this tenure, onboarding and first-event facts are history, not something to act on (the
measurement's own figure, equal to retention.reasons.EARLY_HISTORY_DAYS, which older code lacks)."""
TOP = 100
"""The rows a manager reads first."""

HIGHER_EXPLAINS_RISK = {"recency", "recency_ratio", "gap_mean", "gap_std", "pending_amount", "pending_requests", "unpaid_commission", "first_event"}
LOWER_EXPLAINS_RISK = {
    "count",
    "revenue",
    "payout_amount",
    "revenue_share",
    "active_days",
    "trend",
    "slope",
    "funnel",
    "onboarding",
    "commission_rate",
}
CONSTANT_FAMILIES = {"partner_type", "country", None}
EARLY_FAMILIES = {"onboarding", "first_event"}
TENURE = re.compile(r"^(in the program for |joined less than a day ago|в программе )")
SUFFIX = re.compile(r" \((typical|обычно|типично)[^)]*\)")
USUALLY = re.compile(r"; (?=usually |обычно )")
CLASSES = ("tenure", "constant", "wrong direction", "typical")


def sentence_key(text: str) -> str:
    """The part of a reason that names its feature: no typical comparison, no '; usually' clause."""
    return USUALLY.split(SUFFIX.sub("", text))[0].strip()


def feature_of(sentence: str, row: Mapping[str, Any], names: list[str], target: str, lang: str) -> str | None:
    """The feature whose sentence this is, trying money owed first (several features tell it)."""
    key = sentence_key(sentence)
    for name in names:
        text = describe_feature(name, row, target=target, lang=lang)
        if text is not None and sentence_key(text) == key:
            return name
    return None


def quartiles(features: pd.DataFrame, active: np.ndarray) -> dict[tuple[str, bool], pd.DataFrame]:
    """Per (segment, active only?) the 25th and 75th percentile of every numeric feature."""
    numeric = features.select_dtypes("number")
    out: dict[tuple[str, bool], pd.DataFrame] = {}
    for only_active in (False, True):
        rows = numeric[active] if only_active else numeric
        segments = features.loc[rows.index, "segment"]
        for segment, frame in rows.groupby(segments.to_numpy()):
            out[(str(segment), only_active)] = frame.quantile([0.25, 0.75])
    return out


def explained_as(scored: pd.DataFrame, config: Config) -> np.ndarray:
    """Per row, the score its reasons stand for: 'deactivation_risk', 'upgrade_potential', or '' for a
    partner whose action follows from its segment (facts by design).

    The rows `serving.core.explain` asks a model to explain (medium or high risk, high potential, the
    first scoring.model_reasons_top rows) count even when no driver was worth a slot and they fell back
    to facts: those facts are then shown as why the partner is at risk (or may grow).
    """
    band, high_potential = scored["risk_band"].to_numpy(object), scored["potential_band"].to_numpy(object) == "high"
    top = np.arange(len(scored)) < config.scoring.model_reasons_top
    by_risk = np.isin(band, ["medium", "high"]) | (top & ~np.isin(band, ["inactive", "unavailable"]) & ~high_potential)
    by_potential = ~by_risk & (high_potential | top)
    target = np.select([by_risk, by_potential], ["deactivation_risk", "upgrade_potential"], default="")
    source = scored["reasons_source"].to_numpy(object)
    return np.where(source == "risk_model", "deactivation_risk", np.where(source == "potential_model", "upgrade_potential", target))


def classify(
    sentence: str, row: Mapping[str, Any], target: str, names: list[str], lang: str, ranges: Mapping[tuple[str, bool], pd.DataFrame]
) -> str | None:
    """The filler class of one reason sentence, None when it is a reason; 'unmatched' when no feature says it.

    `target` is the score the sentence stands for ('' for facts by design: only tenure and constant count)."""
    if TENURE.match(sentence):
        return "tenure"
    if not target:
        return None
    growth = target == "upgrade_potential"
    name = feature_of(sentence, row, names, target, lang)
    if name is None:
        return "unmatched"
    family = template_family(name)
    if family in CONSTANT_FAMILIES:
        return "constant"
    if family in EARLY_FAMILIES and float(row.get("tenure_days") or 0) >= EARLY_DAYS:
        return "constant"
    if family not in HIGHER_EXPLAINS_RISK | LOWER_EXPLAINS_RISK:
        return None
    value = pd.to_numeric(row.get(name), errors="coerce")
    higher = family in HIGHER_EXPLAINS_RISK
    if growth:
        higher = not higher
    if family in ("trend", "slope") and not pd.isna(value) and (value >= 0 if not higher else value <= 0):
        return "wrong direction"
    q = ranges[(str(row["segment"]), not growth)]
    if name not in q or pd.isna(value):
        return None
    low, high = q.loc[0.25, name], q.loc[0.75, name]
    return "typical" if (value <= high if higher else value >= low) else None


def measure(scored: pd.DataFrame, targets: np.ndarray, features: pd.DataFrame, active: np.ndarray, lang: str, names: list[str]) -> pd.DataFrame:
    """One row per reason sentence: its partner's rank in the list, source, target and filler class ('' for none)."""
    by_partner = features.set_index("partner_id")
    ranges = quartiles(features, active)
    owed_first = sorted(
        names, key=lambda n: (template_family(n) not in ("pending_amount", "pending_requests"), template_family(n) == "recency_ratio")
    )
    records = []
    for rank, (partner, source, target, reasons) in enumerate(zip(scored["partner_id"], scored["reasons_source"], targets, scored["reasons"])):
        row = by_partner.loc[partner].to_dict()
        for sentence in filter(None, str(reasons).split(" | ")):
            found = classify(sentence, row, target, owed_first, lang, ranges)
            records.append({"rank": rank, "source": source, "target": target, "sentence": sentence, "filler": found or ""})
    return pd.DataFrame(records, columns=["rank", "source", "target", "sentence", "filler"])


def report(sentences: pd.DataFrame, rows: int, label: str) -> None:
    """Shares of filler reasons (of all reasons) and of rows with any filler (of all rows), by class."""
    filler = sentences[sentences["filler"].isin(CLASSES)]
    n = max(len(sentences), 1)
    by_class = ", ".join(
        f"{c} {(filler['filler'] == c).sum() / n:.1%} / {filler.loc[filler['filler'] == c, 'rank'].nunique() / max(rows, 1):.1%}" for c in CLASSES
    )
    print(
        f"{label}: {rows:,} rows, {len(sentences):,} reasons ({len(sentences) / max(rows, 1):.2f} a row); "
        f"filler {len(filler) / n:.1%} of reasons, rows with any filler {filler['rank'].nunique() / max(rows, 1):.1%}\n"
        f"    by class, of reasons / of rows: {by_class}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scoring", type=Path, help="a scoring's folder: risk_list.parquet and scoring.json")
    parser.add_argument("--data", type=Path, required=True, help="the program folder that was scored")
    parser.add_argument("--config", type=Path, default=None, help="the YAML config the scoring used (default: built-in)")
    parser.add_argument("--show", type=int, default=0, help="print this many filler sentences of each class")
    args = parser.parse_args()
    config = load_config(args.config)
    meta = json.loads((args.scoring / "scoring.json").read_text())
    as_of, lang = pd.Timestamp(meta["as_of"]), meta["lang"]
    scored = pd.read_parquet(args.scoring / "risk_list.parquet", columns=["partner_id", "risk_band", "potential_band", "reasons", "reasons_source"])
    program = load_program(args.data, config.data, as_of)
    features = build_features(program.partners, program.events, [as_of], config, surveys=program.surveys)
    active = active_mask(features, config)
    names = [spec.name for spec in feature_schema(config)]
    targets = explained_as(scored, config)
    sentences = measure(scored, targets, features, active, lang, names)
    explained = sentences["target"] != ""
    fallback = (targets != "") & (scored["reasons_source"] == "facts").to_numpy()
    print(f"{args.scoring} ({lang}); rows by source: {scored['reasons_source'].value_counts().to_dict()}")
    by_model = (sentences["source"] != "facts").to_numpy()
    report(sentences[by_model], int((scored["reasons_source"] != "facts").sum()), "model-based reasons (risk_model, potential_model)")
    report(sentences[explained], int((targets != "").sum()), "rows a model explains (model-based, and facts where no driver was worth a slot)")
    print(
        f"    of which no driver was worth a slot, facts instead: {int(fallback.sum()):,} rows, "
        f"{int(fallback[np.isin(scored['risk_band'], ['medium', 'high'])].sum()):,} of them at medium or high risk"
    )
    report(sentences[sentences["rank"] < TOP], min(TOP, len(scored)), f"top {TOP}")
    report(sentences[~explained], int((targets == "").sum()), "facts by design (tenure and constant only)")
    report(sentences, len(scored), "all reasons")
    print(f"unmatched (no feature's sentence found; not counted as filler): {(sentences['filler'] == 'unmatched').sum():,}")
    print(f"rows without any reason: {(scored['reasons'].fillna('') == '').sum():,}")
    if args.show:
        for name in CLASSES + ("unmatched",):
            for text in sentences.loc[sentences["filler"] == name, "sentence"].head(args.show):
                print(f"  [{name}] {text}")


if __name__ == "__main__":
    main()
