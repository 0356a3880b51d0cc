"""What a training run produced, handed from the training pipeline to MLflow logging and the gate."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.schema import FeatureSpec
from partner_churn.config import Config
from training.datasets import CutoffPlan
from training.model import Target, TrainedModel


@dataclass
class TrainingResult:
    """Everything a training run logs: models, backtest, data fingerprint, drift reference."""

    config: Config
    fingerprint: dict[str, object]
    """Rows, partners, events, date range and a content hash of the input data."""
    schema: list[FeatureSpec]
    models: dict[Target, TrainedModel]
    """The final refits, what is registered; empty when only the procedure was judged (`refit=False`)."""
    backtest: pd.DataFrame
    """Tidy table: target, population ('all', or 'no_tenure_crossing' for potential), scorer (model /
    recency_rule / logistic_rfm / btyd / oracle / ...), fold ('1'.. oldest first, 'all' pooled, 'mean',
    'spread'), origin (the fold's first test cutoff), segment ('all' or a segment), rows, positives, roc_auc,
    pr_auc, brier, log_loss, ece, precision_top10, recall_top10, revenue_share_top10."""
    predictions: pd.DataFrame
    """The folds' test rows: target, fold, origin, as_of, partner_id, segment, label, revenue_next_horizon,
    tenure_crossing and one score column per scorer (model, recency_rule, logistic_rfm, ... ); plots are drawn
    from it."""
    backtest_rows: dict[Target, pd.DataFrame]
    """The folds' test feature rows with their label per target (input examples are taken from them)."""
    reference_sample: pd.DataFrame
    """A sample of the final refits' training features (and their scores) for drift monitoring."""
    primary_baseline_auc: dict[Target, float]
    """Folds' mean ROC-AUC of each target's gate baseline, on its headline population: the better of the
    recency rule and BG/NBD for risk, the best baseline for potential."""
    model_auc: dict[Target, float]
    """Folds' mean ROC-AUC of the procedure, on each target's headline population."""
    not_trained: dict[Target, str] = field(default_factory=dict)
    """Targets that could not be trained on this data, with the reason in one line (the other target's
    model still is)."""
    plan: CutoffPlan | None = None
    """The folds and the final refit's cutoffs this run used."""

    @property
    def fold_origins(self) -> list[str]:
        """Each fold's origin (ISO date), oldest first: which folds the gate compares procedures on."""
        return [str(fold.origin.date()) for fold in self.plan.folds] if self.plan else []
