"""The scoring-date and active-population guards every scoring passes through (`partner_churn.domain`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from partner_churn.config import load_config
from partner_churn.domain import check_active_partners
from partner_churn.errors import InputError

AS_OF = pd.Timestamp("2026-07-01", tz="UTC")


def test_a_scoring_of_nobody_active_is_refused_unless_forced() -> None:
    config = load_config(env={}, overrides=["labels.active_window_days=45"])
    silent = pd.DataFrame({"days_since_last_activity": [46.0, np.nan, 120.0]})
    with pytest.raises(
        InputError,
        match=r"no partner is active as of 2026-07-01 \(none has a qualifying event in the 45 days before it; 3 partners signed up\).*--allow-stale",
    ):
        check_active_partners(silent, AS_OF, config)
    assert check_active_partners(silent, AS_OF, config, allow_stale=True) == 0
    assert check_active_partners(pd.DataFrame({"days_since_last_activity": [45.0, 46.0]}), AS_OF, config) == 1
    with pytest.raises(InputError, match="0 partners signed up"):
        check_active_partners(pd.DataFrame({"days_since_last_activity": []}), AS_OF, config)
