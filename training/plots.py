"""Figures of a training run: calibration, feature importance, lift; logged to MLflow as PNGs.

Pure functions from frames to `matplotlib.figure.Figure` objects. They build figures with the
object-oriented API (no pyplot), so nothing here picks a GUI backend or keeps global figure state:
rendering a returned figure with `fig.savefig` (or `mlflow.log_figure`) uses the Agg canvas.

`predictions` has the columns documented on `TrainingResult.predictions`: target, as_of, partner_id,
segment, label, revenue_next_horizon and one score column per scorer (model, recency_rule, ...).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from training.backtest import CALIBRATION_BINS, reliability
from training.model import TrainedModel

PREDICTION_COLUMNS = ("target", "fold", "origin", "as_of", "partner_id", "segment", "label", "revenue_next_horizon", "tenure_crossing")
"""Columns of `predictions` that are not scores."""


def score_columns(predictions: pd.DataFrame) -> list[str]:
    """Scorer columns of a predictions frame, the model first, the oracle (if any) last."""
    scores = [c for c in predictions.columns if c not in PREDICTION_COLUMNS and pd.api.types.is_numeric_dtype(predictions[c])]
    return sorted(scores, key=lambda c: (c != "model", c == "oracle", c))


def _rows_of(predictions: pd.DataFrame, target: str) -> pd.DataFrame:
    rows = predictions[predictions["target"] == target] if "target" in predictions.columns else predictions
    return rows[rows["label"].notna()]


def _empty(fig: Figure, text: str) -> Figure:
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return fig


def calibration_curve(predictions: pd.DataFrame, target: str) -> Figure:
    """Reliability diagram of the model's calibrated probabilities (10 equal-width bins) over a histogram.

    A calibrated model's points lie on the diagonal: of partners scored 0.3, about 30% had the event.
    """
    fig = Figure(figsize=(6.5, 7.0), layout="constrained")
    rows = _rows_of(predictions, target)
    if rows.empty or "model" not in rows.columns:
        return _empty(fig, f"{target}: no backtest predictions")
    score = rows["model"].to_numpy(float)
    label = rows["label"].to_numpy(float)
    mean_score, observed, counts = reliability(label, score)

    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    top.plot(mean_score, observed, marker="o", label="model")
    for x, y, n in zip(mean_score, observed, counts, strict=True):
        top.annotate(f"{n}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7, color="grey")
    top.set_ylabel("observed share with the event")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_title(f"{target}: calibration on backtest rows\n{len(rows):,} rows, base rate {label.mean():.1%}; numbers are rows per bin")
    top.legend(loc="upper left")
    bottom.hist(score, bins=np.linspace(0.0, 1.0, CALIBRATION_BINS + 1), color="tab:blue", alpha=0.7)
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("rows")
    return fig


def feature_importance(model: TrainedModel, top: int = 25) -> Figure:
    """The model's `top` features by total gain, largest on top."""
    gain = model.booster.feature_importance(importance_type="gain")
    names = model.booster.feature_name()
    total = float(np.sum(gain))
    order = pd.Series(gain, index=names, dtype=float).sort_values(ascending=False).head(top)
    fig = Figure(figsize=(7.0, 0.3 * max(len(order), 4) + 1.2), layout="constrained")
    if order.empty or total <= 0:
        return _empty(fig, f"{model.target}: the model has no splits")
    ax = fig.add_subplot()
    ax.barh(order.index[::-1], order.to_numpy()[::-1] / total * 100, color="tab:blue")
    ax.set_xlabel("share of the model's total gain (%)")
    ax.set_title(f"{model.target}: top {len(order)} features by gain")
    ax.tick_params(axis="y", labelsize=8)
    return fig


def lift_chart(predictions: pd.DataFrame, target: str) -> Figure:
    """Cumulative share of positives and of next-horizon revenue captured vs share of partners flagged.

    One line per scorer (model and baselines), partners ranked by that scorer's score, highest first;
    the diagonal is a random ranking. All backtest cutoffs are pooled.
    """
    fig = Figure(figsize=(11.0, 4.8), layout="constrained")
    rows = _rows_of(predictions, target)
    scorers = score_columns(rows)
    if rows.empty or not scorers:
        return _empty(fig, f"{target}: no backtest predictions")
    label = rows["label"].to_numpy(float)
    revenue = rows["revenue_next_horizon"].fillna(0).clip(lower=0).to_numpy(float) if "revenue_next_horizon" in rows else np.zeros(len(rows))
    share_flagged = np.arange(1, len(rows) + 1) / len(rows)
    left, right = fig.subplots(1, 2)
    for ax, weights, what in ((left, label, "positives"), (right, revenue, "next-horizon revenue")):
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
        total = weights.sum()
        if total <= 0:
            ax.text(0.5, 0.5, f"no {what} in these rows", ha="center", va="center", transform=ax.transAxes)
        else:
            for scorer in scorers:
                score = rows[scorer].to_numpy(float)
                # Missing scores rank last; ties keep a stable order so the figure is reproducible.
                order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
                captured = np.cumsum(weights[order]) / total
                ax.plot(share_flagged, captured, label=scorer, linewidth=2.0 if scorer == "model" else 1.2)
        ax.axvline(0.1, color="lightgrey", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("share of partners flagged (highest score first)")
        ax.set_ylabel(f"share of {what} captured")
        ax.set_title(f"{target}: {what}")
        ax.legend(loc="lower right", fontsize=8)
    return fig
