"""Helpers more than one test module needs (test modules do not import each other for them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.schema import FeatureSpec


def feature_record(row: pd.Series, schema: Sequence[FeatureSpec], **extra: Any) -> dict[str, Any]:
    """A service request record (`"features": {...}`) from one row of `build_features`."""
    values: dict[str, Any] = {}
    for spec in schema:
        value = row[spec.name]
        if spec.kind == "int":
            values[spec.name] = int(value)
        elif spec.kind == "category":
            values[spec.name] = None if value is None or value != value else str(value)
        else:
            values[spec.name] = None if np.isnan(value) else float(value)
    return {"partner_id": str(row["partner_id"]), "features": values, "downgrade_warning": bool(row["downgrade_warning"]), **extra}
