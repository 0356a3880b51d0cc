"""Buy-till-you-die baseline: the BG/NBD model (Fader, Hardie and Lee 2005) on partners' purchase days.

The classical way to judge whether a customer of a purchase-only business has gone quiet for good is a
BTYD model on (frequency, recency, T). This module turns the events frame into that summary at each
cutoff and scores `P(no purchase in [t, t + H))`, so the backtest can show whether LightGBM beats it.

Library: `lifetimes` 0.11.3 (its `BetaGeoFitter`, maximum likelihood with autograd gradients).
Measured on this machine (2 cores, Python 3.11, numpy 2.4.6, pandas 2.3.3, scipy 1.17.1), against
the other maintained or forked candidates:

- `lifetimes` 0.11.3: imports and fits on the pinned numpy/pandas/scipy. It adds three small packages
  (`lifetimes`, `autograd`, `dill`, about 4 MB) and no change to an existing pin. It adds 0.1-1 s
  to import time (warm/cold), and an ML fit on 100,000 customers takes 1.1-1.6 s (1.4 million
  stacked training rows: 7-11 s, 40% of it lifetimes' Hessian for standard errors we don't use;
  prediction is negligible). Its drawback: it has been unmaintained since 2020 (its authors point
  to pymc-marketing). We rely on little of it (the
  likelihood fit, P(alive), the conditional expectation), and the tests here check it against
  data simulated from the model, so a future numpy/scipy that breaks it fails CI loudly. It has two
  habits we contain: its likelihood calls `warnings.simplefilter("ignore", FutureWarning)` (process
  wide), and it prints the optimizer's output when it fails. Both stay inside `_fit_lifetimes`.
  Its fitted object holds lambdas and does not pickle, so we keep only the four parameters.
- `pymc-marketing`: maintained, but its current line (>= 1.0) needs Python >= 3.12 and we pin
  3.11. The last 3.11 release (0.19.2, with pymc 5.28, pytensor 2.38, numba) adds 23 packages and
  about 360 MB. It downgrades the pinned `cachetools` 7.3.2 to 6.2.6 (pymc wants <7). Importing
  its CLV module takes 10-13 s, and a MAP fit (`fit(method="map")`, no MCMC) of 100,000 customers
  takes 4 s with a warm pytensor compile cache and 28 s without one (a fresh CI machine).
- `btyd` (the lifetimes fork): resolves only to 0.1a1 on pymc 4.4 / aesara 2.8, an abandoned stack.
  It would add about 40 packages and downgrade `psutil`.

Model and conventions:

- Time unit: days. A purchase is an event whose `event_type` is one of `purchase_types` (default
  `sale`), counted by UTC calendar day (the BTYD convention for daily data): `frequency` = distinct
  purchase days before the cutoff minus 1 (repeat purchase days), `recency` = days from the first
  to the last purchase day, `T` = days from the first purchase day's midnight to the cutoff. Only
  events with `ts < as_of` count (point in time). For midnight cutoffs, recency and T are whole
  days and T > recency always.
- Partners with no purchase before the cutoff still get a row, because the caller's rows (active
  partners, for example) define the population: `purchased` False, frequency 0, recency 0, and
  T = days since the sign-up day when the requested rows carry `signup_at` (sign-up stands in for
  the first purchase), else 0 (the model's brand-new-customer prediction). They are not used
  to fit: a partner who never bought carries no BG/NBD information, and counting sign-up as a
  purchase would bias the purchase rate down.
- The fit is on the training-cutoff rows the caller passes. One partner stacked over several
  cutoffs makes it a composite likelihood: the point estimates are sound, the standard errors
  would not be, so none are reported. Rows with equal (frequency, recency, T) are pooled with
  weights, which the BG/NBD likelihood allows exactly.
- Deactivation score: P(no purchase in [t, t + H)) = 1 - P(alive) * (1 - ((alpha + T) / (alpha + T + H))
  ** (r + x)). In BG/NBD a customer can drop out only right after a purchase, so a customer alive at t
  buys nothing in H with the probability that a Poisson process whose rate has the posterior
  Gamma(r + x, alpha + T) has no event in H.
- Robustness: with fewer than `min_repeat_buyers` repeat buyers among the fitted rows, or when the
  optimizer fails or gives non-finite parameters or predictions, the model falls back to
  `FALLBACK_PRIOR`: r = 1, alpha = (sum T + 1) / (sum x + 1) (the pooled repeat-purchase rate with one
  pseudo purchase), a = b = 2. `fitted_by_` says which was used and `fallback_reason_` says why.
  With no purchaser at all among the fitted rows there is nothing to learn, and `fit` raises
  `InputError`.
- The backtest's deactivation label counts every qualifying event, not only purchases. This baseline
  predicts only the absence of purchases, which is what the label means for a purchase-only program.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError

from partner_churn.errors import InputError

DAY_NS = pd.Timedelta(days=1).value
SUMMARY_COLUMNS = ("partner_id", "as_of", "frequency", "recency", "T", "purchased")
PARAMS = ("r", "alpha", "a", "b")
FALLBACK_PRIOR = {"r": 1.0, "a": 2.0, "b": 2.0}
"""Fallback shape of the purchase-rate Gamma and the Beta of the dropout probability; alpha is set
from the data (pooled repeat-purchase rate). a = b = 2: dropout chance 0.5 on average after each
purchase, and a != 1, which the BG/NBD conditional expectation needs."""


def purchase_summary(
    events: pd.DataFrame,
    rows: pd.DataFrame,
    *,
    purchase_types: Sequence[str] = ("sale",),
) -> pd.DataFrame:
    """BTYD summary (frequency, recency, T in days) of every requested (partner_id, as_of) row.

    `rows` has `partner_id` and `as_of` (UTC timestamps) and optionally `signup_at`. The result has one
    row per requested row, in the same order (fresh index), with columns `SUMMARY_COLUMNS`. Only events
    of `purchase_types` with `ts < as_of` count.
    """
    _require(events, ("partner_id", "ts", "event_type"), "events")
    _require(rows, ("partner_id", "as_of"), "rows")
    is_purchase = events["event_type"].isin(list(purchase_types)).to_numpy()
    categories, event_codes = _event_partner_codes(events["partner_id"])
    ts = _utc_ns(events["ts"], "events.ts")
    request_codes = _row_partner_codes(rows["partner_id"], categories)
    as_of = _utc_ns(rows["as_of"], "rows.as_of")

    hit, frequency, first_day, last_day = _last_purchase_day(event_codes[is_purchase], ts[is_purchase], request_codes, as_of)
    recency = (last_day - first_day).astype(float)
    start_ns = first_day * DAY_NS
    if "signup_at" in rows:
        signup_day_ns = (_utc_ns(rows["signup_at"], "rows.signup_at") // DAY_NS) * DAY_NS
        start_ns = np.where(hit, start_ns, np.minimum(signup_day_ns, as_of))
    else:
        start_ns = np.where(hit, start_ns, as_of)
    return pd.DataFrame(
        {
            "partner_id": rows["partner_id"].reset_index(drop=True),
            "as_of": rows["as_of"].reset_index(drop=True),
            "frequency": frequency,
            "recency": recency,
            "T": (as_of - start_ns) / DAY_NS,
            "purchased": hit,
        }
    )


def _last_purchase_day(
    event_codes: np.ndarray, ts: np.ndarray, request_codes: np.ndarray, as_of: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per request: any purchase before as_of, repeat purchase days, first and last purchase day (UTC day numbers).

    Requests without a purchase get False, 0, 0, 0.
    """
    code, ts = _by_partner_then_time(event_codes, ts)
    day = ts // DAY_NS
    new_day = np.ones(code.size, bool)
    new_day[1:] = (code[1:] != code[:-1]) | (day[1:] != day[:-1])
    code, first_ts, day = code[new_day], ts[new_day], day[new_day]
    new_partner = np.ones(code.size, bool)
    new_partner[1:] = code[1:] != code[:-1]
    block_start = np.maximum.accumulate(np.where(new_partner, np.arange(code.size), 0))
    # A sentinel record at the end keeps the gathers below valid when there are no purchases at all.
    days_so_far = np.append(np.arange(code.size) - block_start + 1, 1)
    first_day = np.append(day[block_start], 0)
    last_day = np.append(day, 0)

    # Time as an exact key over the distinct cutoffs: cutoff i -> 2i + 1; a purchase day -> 2 * (cutoffs at
    # or before its first event). A day counts for a cutoff iff its first event is < as_of iff its key is
    # smaller, and partner * width + key stays inside int64.
    cutoffs = np.unique(as_of)
    width = 2 * cutoffs.size + 2
    day_key = code * width + 2 * np.searchsorted(cutoffs, first_ts, side="right")
    request_key = np.maximum(request_codes, 0) * width + 2 * np.searchsorted(cutoffs, as_of) + 1
    last = np.searchsorted(day_key, request_key, side="left") - 1
    hit = (request_codes >= 0) & (last >= 0)
    hit[hit] = code[last[hit]] == request_codes[hit]
    at = np.where(hit, last, code.size)
    return hit, (days_so_far[at] - 1).astype(np.int64), first_day[at], last_day[at]


class BTYDBaseline:
    """BG/NBD fitted by maximum likelihood on purchase summaries; scores P(no purchase in the horizon).

    `min_repeat_buyers`: below this many fitted rows with frequency > 0 the model uses the documented
    fallback prior instead of a fit. `penalizer_coef`: lifetimes' L2 penalty on the four parameters
    (0 = plain maximum likelihood).
    """

    def __init__(self, *, min_repeat_buyers: int = 30, penalizer_coef: float = 0.0) -> None:
        self.min_repeat_buyers = min_repeat_buyers
        self.penalizer_coef = penalizer_coef

    def fit(self, summary: pd.DataFrame) -> BTYDBaseline:
        """Fit on training-cutoff summary rows; rows with `purchased` False are left out of the fit."""
        frequency, recency, T = _summary_arrays(summary)
        purchased = summary["purchased"].to_numpy(bool) if "purchased" in summary else np.ones(frequency.size, bool)
        frequency, recency, T = frequency[purchased], recency[purchased], T[purchased]
        if frequency.size == 0:
            raise InputError(
                "BTYD baseline: no row has a purchase before its cutoff, so there is nothing to fit; "
                "check purchase_types against the program's event types"
            )
        self.n_fit_rows_ = int(frequency.size)
        self.n_repeat_buyers_ = int((frequency > 0).sum())
        self.fallback_reason_: str | None = None
        if self.n_repeat_buyers_ < self.min_repeat_buyers:
            self.fallback_reason_ = f"{self.n_repeat_buyers_} repeat buyers, fewer than min_repeat_buyers={self.min_repeat_buyers}"
        else:
            params, failure = _fit_lifetimes(frequency, recency, T, self.penalizer_coef)
            if failure is None:
                self.params_ = params
                if not np.all(np.isfinite(self._no_purchase(frequency, recency, T, 30.0))):
                    failure = "non-finite predictions on the fitted rows"
            self.fallback_reason_ = failure
        self.fitted_by_: Literal["maximum_likelihood", "prior"] = "maximum_likelihood"
        if self.fallback_reason_ is not None:
            self.fitted_by_ = "prior"
            self.params_ = {
                **FALLBACK_PRIOR,
                "alpha": (float(T.sum()) + 1.0) / (float(frequency.sum()) + 1.0) * FALLBACK_PRIOR["r"],
            }
        return self

    def probability_alive(self, summary: pd.DataFrame) -> np.ndarray:
        """P(still buying at the cutoff | history); 1 for partners without a repeat purchase."""
        return self._alive(*_summary_arrays(summary))

    def predict_no_purchase(self, summary: pd.DataFrame, horizon_days: float) -> np.ndarray:
        """P(no purchase in [as_of, as_of + horizon_days)): the BTYD deactivation score."""
        _check_horizon(horizon_days)
        return self._no_purchase(*_summary_arrays(summary), float(horizon_days))

    def expected_purchases(self, summary: pd.DataFrame, horizon_days: float) -> np.ndarray:
        """Expected number of purchase days in [as_of, as_of + horizon_days) given the history."""
        _check_horizon(horizon_days)
        frequency, recency, T = _summary_arrays(summary)
        fitter = self._fitter()
        with np.errstate(all="ignore"):
            expected = np.asarray(fitter.conditional_expected_number_of_purchases_up_to_time(float(horizon_days), frequency, recency, T), float)
            bad = ~np.isfinite(expected)
            if bad.any():
                # a = 1 is a removable singularity of the closed form: evaluate just beside it.
                fitter.params_ = fitter.params_ * pd.Series({"r": 1.0, "alpha": 1.0, "a": 1.0 + 1e-6, "b": 1.0})
                expected[bad] = fitter.conditional_expected_number_of_purchases_up_to_time(float(horizon_days), frequency[bad], recency[bad], T[bad])
        if not np.all(np.isfinite(expected)):
            raise FloatingPointError(f"BG/NBD expected purchases not finite with parameters {self.params_}")
        return np.maximum(expected, 0.0)

    def _alive(self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            alive = np.asarray(self._fitter().conditional_probability_alive(frequency, recency, T), float)
        return np.clip(alive, 0.0, 1.0)

    def _no_purchase(self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray, horizon: float) -> np.ndarray:
        r, alpha = self._params()["r"], self._params()["alpha"]
        buys_if_alive = -np.expm1((r + frequency) * np.log1p(-horizon / (alpha + T + horizon)))
        return np.clip(1.0 - self._alive(frequency, recency, T) * buys_if_alive, 0.0, 1.0)

    def _params(self) -> dict[str, float]:
        if not hasattr(self, "params_"):
            raise NotFittedError("BTYDBaseline is not fitted yet: call fit(summary) first")
        return self.params_

    def _fitter(self):  # noqa: ANN202 - lifetimes.BetaGeoFitter
        """A lifetimes BetaGeoFitter carrying our parameters (its own fitted object does not pickle)."""
        from lifetimes import BetaGeoFitter

        fitter = BetaGeoFitter(penalizer_coef=self.penalizer_coef)
        fitter.params_ = pd.Series({name: float(self._params()[name]) for name in PARAMS})
        return fitter


def _fit_lifetimes(frequency: np.ndarray, recency: np.ndarray, T: np.ndarray, penalizer_coef: float) -> tuple[dict[str, float], str | None]:
    """Maximum-likelihood parameters on pooled (x, t_x, T) patterns, or the reason the fit failed."""
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import ConvergenceError

    patterns = pd.DataFrame({"x": frequency, "t_x": recency, "T": T}).value_counts().reset_index(name="weight")
    with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            fitter = BetaGeoFitter(penalizer_coef=penalizer_coef).fit(
                patterns["x"].to_numpy(),
                patterns["t_x"].to_numpy(float),
                patterns["T"].to_numpy(float),
                weights=patterns["weight"].to_numpy(),
            )
        except (ConvergenceError, ValueError, FloatingPointError, np.linalg.LinAlgError) as error:
            return {}, f"the maximum-likelihood fit failed: {type(error).__name__}: {str(error).strip()}"
    params = {name: float(fitter.params_[name]) for name in PARAMS}
    if not all(np.isfinite(value) and value > 0 for value in params.values()):
        return {}, f"the maximum-likelihood fit gave invalid parameters {params}"
    return params, None


def _summary_arrays(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """frequency (int), recency and T (float days), checked: finite, non-negative, recency <= T."""
    _require(summary, ("frequency", "recency", "T"), "summary")
    frequency = summary["frequency"].to_numpy(float)
    recency = summary["recency"].to_numpy(float)
    T = summary["T"].to_numpy(float)
    problems = {
        "missing or infinite values": ~(np.isfinite(frequency) & np.isfinite(recency) & np.isfinite(T)),
        "negative values": (frequency < 0) | (recency < 0) | (T < 0),
        "non-integer frequency": frequency != np.round(frequency),
        "recency greater than T": recency > T,
        "non-zero recency with zero frequency": (frequency == 0) & (recency != 0),
    }
    for problem, bad in problems.items():
        if bad.any():
            raise InputError(
                f"BTYD summary: {int(bad.sum())} rows with {problem}, e.g.\n"
                f"{summary.loc[bad, [c for c in summary.columns if c in SUMMARY_COLUMNS]].head(3).to_string()}"
            )
    return frequency.astype(np.int64), recency, T


def _by_partner_then_time(code: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Events ordered by partner code, then time; the contract's events already are, so usually no sort."""
    step_code, step_ts = np.diff(code), np.diff(ts)
    if np.all((step_code > 0) | ((step_code == 0) & (step_ts >= 0))):
        return code, ts
    order = np.lexsort((ts, code))
    return code[order], ts[order]


def _check_horizon(horizon_days: float) -> None:
    if not (np.isfinite(horizon_days) and horizon_days > 0):
        raise InputError(f"BTYD baseline: horizon_days must be a positive number of days, got {horizon_days!r}")


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{name}: missing column(s) {missing}; has {list(frame.columns)}")


def _utc_ns(values: pd.Series, name: str) -> np.ndarray:
    """UTC nanoseconds of a tz-aware timestamp column; naive or missing timestamps are an error."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        raise InputError(f"{name}: expected tz-aware UTC timestamps, got dtype {values.dtype}")
    stamps = values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if stamps.isna().any():
        raise InputError(f"{name}: {int(stamps.isna().sum())} missing timestamps, e.g. rows {list(values.index[stamps.isna()][:3])}")
    return stamps.array.asi8.copy()


def _event_partner_codes(partner_id: pd.Series) -> tuple[pd.Index, np.ndarray]:
    """Partner categories of the events and each event's integer code into them."""
    if isinstance(partner_id.dtype, pd.CategoricalDtype):
        return partner_id.cat.categories, partner_id.cat.codes.to_numpy(np.int64)
    codes, categories = pd.factorize(partner_id, sort=False)
    return pd.Index(categories), codes.astype(np.int64)


def _row_partner_codes(partner_id: pd.Series, categories: pd.Index) -> np.ndarray:
    """Each requested row's code into the events' partner categories; -1 for partners with no purchase."""
    if isinstance(partner_id.dtype, pd.CategoricalDtype):
        lookup = categories.get_indexer(partner_id.cat.categories.astype(object))
        codes = partner_id.cat.codes.to_numpy(np.int64)
        return np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1).astype(np.int64)
    return categories.get_indexer(partner_id.astype(object)).astype(np.int64)
