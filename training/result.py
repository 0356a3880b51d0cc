"""What a training run produced, handed from the training pipeline to MLflow logging and the gate."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.schema import FeatureSpec
from partner_churn.config import Config
from training.model import Target, TrainedModel


@dataclass
class TrainingResult:
    """Everything a training run logs: models, backtest, data fingerprint, drift reference."""

    config: Config
    fingerprint: dict[str, object]
    """Rows, partners, events, date range and a content hash of the input data."""
    schema: list[FeatureSpec]
    models: dict[Target, TrainedModel]
    backtest: pd.DataFrame
    """Tidy table: target, scorer (model / recency_rule / logistic_rfm / oracle / ...), cutoff ('all' or a
    date), segment ('all' or a segment), rows, positives, roc_auc, pr_auc, brier, log_loss, ece,
    precision_top10, recall_top10, revenue_share_top10."""
    predictions: pd.DataFrame
    """Backtest rows: target, as_of, partner_id, segment, label, revenue_next_horizon and one score column
    per scorer (model, recency_rule, logistic_rfm, ... ); plots are drawn from it."""
    backtest_rows: dict[Target, pd.DataFrame]
    """Backtest feature rows with their label per target, so a current champion can be scored on the same rows."""
    reference_sample: pd.DataFrame
    """A sample of training-period features (and model scores) for drift monitoring."""
    primary_baseline_auc: dict[Target, float]
    """Backtest ROC-AUC (all cutoffs) of each target's gate baseline: the recency rule for risk, the best
    baseline for potential."""
    model_auc: dict[Target, float]
    """Backtest ROC-AUC (all cutoffs) of each new model."""
    not_trained: dict[Target, str] = field(default_factory=dict)
    """Targets that could not be trained on this data, with the reason in one line (the other target's
    model still is)."""
