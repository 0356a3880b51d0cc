"""Backtest metrics and the simple baselines every model is judged against, on the same rows.

Baselines: for deactivation risk, the recency rule (days since last activity divided by the partner's
usual gap between active days) and a logistic regression on recency, frequency and money; for upgrade
potential, the same logistic regression (with tenure) and a revenue-momentum rule. On generated data the
oracle (the generator's own latent hazard) is scored too. For deactivation risk the BG/NBD buy-till-you-die
model (`training/btyd.py`) on sale days is scored as well: the model purchase-only data is classically
judged by. Scores that are not probabilities (the rules)
get ranking metrics only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from partner_churn.config import Config
from partner_churn.domain import (
    ACTIVE_DAYS_30,
    LABEL_OF,
    LAST_ACTIVITY,
    Target,
    active_days_feature,
    count_feature,
    revenue_feature,
    trend_feature,
    window_nearest,
)

GATE_BASELINE: dict[str, tuple[str, ...]] = {
    "deactivation_risk": ("recency_rule", "btyd"),
    "upgrade_potential": ("logistic_rfm", "revenue_momentum"),
}
"""The baselines a target's model must beat to be promoted: the best of these, per run."""
TOP_SHARE = 0.10
PROBABILITY_SCORERS = {"model", "logistic_rfm", "btyd", "oracle"}
METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "precision_top10", "recall_top10", "revenue_share_top10")


def rfm_matrix(rows: pd.DataFrame, config: Config) -> np.ndarray:
    """Recency, frequency, money (and tenure) for the logistic baseline, with missing recency as 'long ago'.

    Frequency counts the qualifying events and money the revenue in every configured window, so the
    baseline fits any windows and any vocabulary."""
    recency = rows[LAST_ACTIVITY].fillna(10_000.0).to_numpy(float)
    qualifying = config.labels.qualifying_event_types
    columns = [np.log1p(recency), rows[ACTIVE_DAYS_30].to_numpy(float), rows[active_days_feature(90)].to_numpy(float)]
    for w in config.features.windows_days:
        frequency = sum(rows[count_feature(t, w)].to_numpy(float) for t in qualifying)
        columns += [np.log1p(frequency), np.log1p(rows[revenue_feature(w)].to_numpy(float))]
    columns.append(rows["tenure_days"].to_numpy(float) / 365.0)
    return np.column_stack(columns)


def fit_logistic_rfm(train: pd.DataFrame, target: Target, config: Config):  # noqa: ANN201 - sklearn Pipeline
    """Logistic regression on recency/frequency/money, fitted on the training rows."""
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000, random_state=config.training.seed))
    return model.fit(rfm_matrix(train, config), train[LABEL_OF[target]].to_numpy(int))


def recency_rule(rows: pd.DataFrame, usual_gap: float) -> np.ndarray:
    """Days since last activity over the partner's usual gap (the program's median gap when it has none)."""
    gap = rows["active_day_gap_mean"].fillna(usual_gap).clip(lower=1.0)
    return (rows[LAST_ACTIVITY].fillna(10_000.0) / gap).to_numpy(float)


def revenue_momentum(rows: pd.DataFrame, config: Config) -> np.ndarray:
    """Recent revenue times (1 + its trend): who is earning more, faster (the window nearest the trend's)."""
    window = window_nearest(config, config.features.trend_window_days)
    return (rows[revenue_feature(window)] * (1 + rows[trend_feature("revenue", config)])).to_numpy(float)


def baseline_scores(target: Target, train: pd.DataFrame, rows: pd.DataFrame, config: Config) -> dict[str, np.ndarray]:
    """Every baseline's score for `rows`, fitted (where a baseline learns) on `train` only."""
    logistic = fit_logistic_rfm(train, target, config)
    scores = {"logistic_rfm": logistic.predict_proba(rfm_matrix(rows, config))[:, 1]}
    if target == "deactivation_risk":
        usual_gap = float(train["active_day_gap_mean"].median()) if train["active_day_gap_mean"].notna().any() else 7.0
        scores["recency_rule"] = recency_rule(rows, usual_gap)
    else:
        scores["revenue_momentum"] = revenue_momentum(rows, config)
    return scores


CALIBRATION_BINS = 10
"""Equal-width score bins of the calibration figures: the ECE and the reliability diagram."""


def reliability(label: np.ndarray, probability: np.ndarray, bins: int = CALIBRATION_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per non-empty equal-width bin of `probability`: mean score, observed share with the event, rows.

    The first two are scikit-learn's `calibration_curve(strategy="uniform")`; the rows use its binning rule
    (a score on an edge belongs to the lower bin), so the three line up bin for bin."""
    label, probability = np.asarray(label, float), np.asarray(probability, float)
    observed, mean_score = calibration_curve(label, probability, n_bins=bins, strategy="uniform")
    rows = np.bincount(np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], probability), minlength=bins)
    return mean_score, observed, rows[rows > 0]


def expected_calibration_error(label: np.ndarray, probability: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Share-weighted mean |observed rate - mean score| over the reliability diagram's bins."""
    mean_score, observed, rows = reliability(label, probability, bins)
    return float(np.sum(rows / rows.sum() * np.abs(observed - mean_score)))


def score_metrics(label: np.ndarray, score: np.ndarray, revenue: np.ndarray, *, probability: bool) -> dict[str, float]:
    """Ranking metrics for any score; calibration metrics for probabilities; top-10% precision, recall, revenue."""
    label = np.asarray(label, int)
    score = np.asarray(score, float)
    out = {name: np.nan for name in METRICS}
    if label.size == 0:
        return out
    n_top = max(1, int(np.ceil(TOP_SHARE * label.size)))
    top = np.argsort(-score, kind="stable")[:n_top]
    positives = label.sum()
    out["precision_top10"] = float(label[top].mean())
    out["recall_top10"] = float(label[top].sum() / positives) if positives else np.nan
    revenue = np.nan_to_num(np.asarray(revenue, float))
    out["revenue_share_top10"] = float(revenue[top].sum() / revenue.sum()) if revenue.sum() > 0 else np.nan
    if 0 < positives < label.size:
        out["roc_auc"] = float(roc_auc_score(label, score))
        out["pr_auc"] = float(average_precision_score(label, score))
    if probability:
        clipped = np.clip(score, 1e-6, 1 - 1e-6)
        out["brier"] = float(brier_score_loss(label, clipped))
        out["log_loss"] = float(log_loss(label, clipped, labels=[0, 1]))
        out["ece"] = expected_calibration_error(label, score)
    return out


POPULATIONS = ("all", "no_tenure_crossing")
"""Rows a backtest figure is computed on: all, or (upgrade potential) only the partners whom no tenure
threshold reaches within the horizon, whose upgrades cannot be mechanical (`features.segments.crosses_tenure_threshold`)."""
HEADLINE_POPULATION: dict[str, str] = {"deactivation_risk": "all", "upgrade_potential": "no_tenure_crossing"}
"""The population the headline and the gate judge each target on."""
TENURE_CROSSING = "tenure_crossing"
"""Predictions column: True where a tenure threshold falls within the row's horizon."""
MEAN, SPREAD = "mean", "spread"
"""The `fold` values of the per-fold figures' mean and spread (sample standard deviation)."""


def backtest_table(predictions: pd.DataFrame, scorers: list[str]) -> pd.DataFrame:
    """Metrics per target, population, scorer and fold: each fold, all folds pooled ('all'), the folds'
    mean and spread; and per segment over all folds.

    `predictions` carries `fold` (1, 2, ... oldest first) and `origin` when it comes from a rolling-origin
    backtest; without them (realized outcomes) there is one pooled group. `TENURE_CROSSING`, when present,
    adds the no-tenure-crossing population for upgrade potential."""
    records = []
    for target, by_target in predictions.groupby("target", sort=False):
        for population, rows_of_population in _populations(str(target), by_target):
            groups: list[tuple[str, str, str, pd.DataFrame]] = [("all", "", "all", rows_of_population)]
            if "fold" in rows_of_population:
                groups += [(str(fold), str(origin), "all", rows) for (fold, origin), rows in rows_of_population.groupby(["fold", "origin"])]
            groups += [("all", "", str(segment), rows) for segment, rows in rows_of_population.groupby("segment")]
            for fold, origin, segment, rows in groups:
                for scorer in scorers:
                    if scorer not in rows or rows[scorer].isna().all():
                        continue
                    metrics = score_metrics(
                        rows["label"].to_numpy(),
                        rows[scorer].to_numpy(),
                        rows["revenue_next_horizon"].to_numpy(),
                        probability=scorer in PROBABILITY_SCORERS,
                    )
                    records.append(
                        {
                            "target": target,
                            "population": population,
                            "scorer": scorer,
                            "fold": fold,
                            "origin": origin,
                            "segment": segment,
                            "rows": len(rows),
                            "positives": int(rows["label"].sum()),
                            **metrics,
                        }
                    )
    table = pd.DataFrame.from_records(records)
    return pd.concat([table, _fold_summary(table)], ignore_index=True) if len(table) else table


def _populations(target: str, rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    if target == "upgrade_potential" and TENURE_CROSSING in rows:
        return [("all", rows), ("no_tenure_crossing", rows[~rows[TENURE_CROSSING].astype(bool)])]
    return [("all", rows)]


def _fold_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The mean and the spread (sample standard deviation, NaN for one fold) of the per-fold figures."""
    per_fold = table[~table["fold"].isin(["all", MEAN, SPREAD]) & (table["segment"] == "all")]
    if per_fold.empty:
        return per_fold
    keys = ["target", "population", "scorer"]
    figures = ["rows", "positives", *METRICS]
    grouped = per_fold.groupby(keys, sort=False)[figures]
    mean = grouped.mean().reset_index().assign(fold=MEAN)
    spread = grouped.std(ddof=1).reset_index().assign(fold=SPREAD)
    return pd.concat([mean, spread], ignore_index=True).assign(origin="", segment="all")


def _headline_rows(table: pd.DataFrame, target: str, scorer: str, population: str | None = None) -> pd.DataFrame:
    """A scorer's rows over all segments, on the target's headline population unless another is named."""
    population = population or HEADLINE_POPULATION.get(target, "all")
    return table[(table["target"] == target) & (table["scorer"] == scorer) & (table["segment"] == "all") & (table["population"] == population)]


def headline(table: pd.DataFrame, target: str, scorer: str, metric: str = "roc_auc", *, population: str | None = None, fold: str = MEAN) -> float:
    """The folds' mean (or, with `fold=SPREAD`, their spread) of one metric, on the target's headline
    population (`HEADLINE_POPULATION`): what the gate judges. NaN when the scorer has no per-fold figures."""
    rows = _headline_rows(table, target, scorer, population)
    row = rows[rows["fold"].astype(str) == fold]
    return float(row[metric].iloc[0]) if len(row) and pd.notna(row[metric].iloc[0]) else float("nan")


def fold_figures(table: pd.DataFrame, target: str, scorer: str, metric: str = "roc_auc") -> dict[str, float]:
    """One metric per fold origin (ISO date), on the target's headline population."""
    rows = _headline_rows(table, target, scorer)
    rows = rows[~rows["fold"].astype(str).isin(["all", MEAN, SPREAD])]
    return {str(origin): float(value) for origin, value in zip(rows["origin"], rows[metric])}


def gate_baseline(table: pd.DataFrame, target: str) -> tuple[str, float]:
    """The best of the target's gate baselines by the folds' mean ROC-AUC: (scorer, figure); ('', NaN)
    when none could be scored."""
    figures = {scorer: headline(table, target, scorer) for scorer in GATE_BASELINE[target]}
    found = {scorer: value for scorer, value in figures.items() if np.isfinite(value)}
    if not found:
        return "", float("nan")
    best = max(found, key=found.__getitem__)
    return best, found[best]


SUMMARY_METRICS = ("roc_auc", "pr_auc", "brier", "ece", "precision_top10", "recall_top10")
"""The figures `backtest_summary` prints (the CSV holds them all)."""


def backtest_summary(table: pd.DataFrame) -> str:
    """The backtest as people read it: per target and population, each scorer's folds (rows, positives,
    figures) and their mean ± spread."""
    blocks = []
    for (target, population), rows in table[table["segment"] == "all"].groupby(["target", "population"], sort=False):
        headline_words = " (the headline and the gate)" if population == HEADLINE_POPULATION.get(str(target), "all") else ""
        label = "all rows" if population == "all" else "rows no tenure threshold reaches within the horizon"
        lines = []
        for scorer, by_scorer in rows.groupby("scorer", sort=False):
            folds = by_scorer[~by_scorer["fold"].astype(str).isin(["all", MEAN, SPREAD])]
            for row in folds.itertuples(index=False):
                lines.append(
                    {
                        "scorer": scorer,
                        "fold": row.fold,
                        "origin": row.origin,
                        "rows": f"{int(row.rows):,}",
                        "positives": f"{int(row.positives):,}",
                        **{m: _figure(getattr(row, m)) for m in SUMMARY_METRICS},
                    }
                )
            mean, spread = (by_scorer[by_scorer["fold"] == which] for which in (MEAN, SPREAD))
            if len(mean):
                lines.append(
                    {
                        "scorer": scorer,
                        "fold": "mean ± spread",
                        "origin": "",
                        "rows": "",
                        "positives": "",
                        **{m: _figure(mean[m].iloc[0], spread[m].iloc[0] if len(spread) else np.nan) for m in SUMMARY_METRICS},
                    }
                )
        blocks.append(f"{target}, {label}{headline_words}:\n" + pd.DataFrame(lines).to_string(index=False))
    return "\n\n".join(blocks)


def _figure(value: float, spread: float = np.nan) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{value:.3f} ± {spread:.3f}" if np.isfinite(spread) else f"{value:.3f}"
