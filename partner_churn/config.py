"""The one typed configuration of partner-churn.

Defaults live here, each field with a docstring; `configs/default.yaml` is the same defaults rendered
with those docstrings as comments (`partner-churn config show`), and a test keeps the two identical.
Precedence, lowest first: defaults < YAML file (`--config` or `PARTNER_CHURN_CONFIG`) < environment
(`PARTNER_CHURN__SECTION__KEY=value`, and `MLFLOW_TRACKING_URI`) < `--set section.key=value`.
Nothing here reads a file or the environment at import time: `load_config` does, when called.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from partner_churn.errors import ConfigError, InputError

ENV_PREFIX = "PARTNER_CHURN__"
ENV_CONFIG_FILE = "PARTNER_CHURN_CONFIG"

ColumnType = Literal["string", "float", "integer", "boolean", "timestamp"]


TARGET_SHORT_NAMES: dict[str, str] = {"risk": "deactivation_risk", "potential": "upgrade_potential"}
"""How a version pin may name a target: `risk=3`, `potential=2` (or the target's full name)."""


def parse_version_pins(pins: Sequence[str] | str | None) -> dict[str, str]:
    """`["risk=3", "potential=2"]`, `"risk=3,potential=2"` or a bare `"3"` (both targets) -> target -> version.

    Targets not named keep their champion. An InputError for anything else."""
    if not pins:
        return {}
    items = [part.strip() for pin in ([pins] if isinstance(pins, str) else pins) for part in str(pin).split(",") if part.strip()]
    found: dict[str, str] = {}
    for item in items:
        name, sep, number = item.partition("=")
        number = (number if sep else name).strip().lstrip("vV")
        if not number.isdigit():
            raise InputError(f"model version {item!r}: expected risk=N, potential=N or N (both)")
        if not sep:
            found |= {t: number for t in TARGET_SHORT_NAMES.values()}
            continue
        target = TARGET_SHORT_NAMES.get(name.strip(), name.strip())
        if target not in TARGET_SHORT_NAMES.values():
            raise InputError(f"model version {item!r}: unknown target {name.strip()!r} (risk or potential)")
        found[target] = number
    return found


def pin_option(target: str, version: str) -> str:
    """The exact option that scores with `version` of `target` and the other target's champion."""
    short = next(k for k, v in TARGET_SHORT_NAMES.items() if v == target)
    return f"--model-version {short}={version}"


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors, field docstrings are descriptions."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class PathsConfig(StrictModel):
    data_dir: Path = Path("work/data")
    """Input program: partners, events and optional actions, as .parquet or .csv files."""
    quarantine_dir: Path = Path("work/quarantine")
    """Where --lenient loading writes the rows it refused, one file per input table."""
    output_dir: Path = Path("work/scores")
    """Where scoring writes one folder per scoring date (risk list, report)."""
    reports_dir: Path = Path("work/reports")
    """Where monitoring writes drift and performance reports."""
    mlflow_tracking_uri: str = "sqlite:///work/mlflow.db"
    """MLflow tracking and registry store; MLFLOW_TRACKING_URI in the environment overrides it."""
    mlflow_artifacts_dir: Path = Path("work/mlartifacts")
    """Local artifact root used with the embedded SQLite store (a copied or moved store is re-rooted here)."""
    mlflow_store_wait_seconds: float = Field(20.0, ge=0, le=3600)
    """How long a command waits for a SQLite store that another process holds locked before it fails in one line."""
    bentoml_home: Path = Path("work/bentoml")
    """BentoML's local model and bento store."""


class DataConfig(StrictModel):
    event_types: list[str] = [
        "login",
        "link_created",
        "click",
        "lead",
        "sale",
        "payout_requested",
        "payout_paid",
        "training_completed",
        "webinar_attended",
        "message_opened",
    ]
    """Vocabulary of `event_type`; any other value is a contract error, unless event_type_map or
    event_type_case_insensitive make it one of these."""
    money_event_types: list[str] = ["sale", "payout_requested", "payout_paid"]
    """Event types whose `amount` is money and must be present; other types may leave it empty or the file may
    have no amount column (read as 0). With a `currency` column, these events must all carry one currency."""
    partner_attributes: dict[str, ColumnType] = {
        "partner_type": "string",
        "country": "string",
        "commission_rate": "float",
    }
    """Declared optional columns of `partners` (name: type); undeclared extra columns are errors."""
    event_extra_columns: dict[str, ColumnType] = {}
    """Declared optional columns of `events` beyond the contract's own."""
    action_extra_columns: dict[str, ColumnType] = {"holdout": "boolean"}
    """Declared optional columns of `actions` (the generator logs `holdout`: assigned but not contacted)."""
    survey_extra_columns: dict[str, ColumnType] = {}
    """Declared optional columns of `surveys` (partner satisfaction answers) beyond the contract's own."""
    column_map: dict[str, dict[str, str]] = {}
    """Per table, the file's column name -> the contract's (or a declared column's) name, for exports with
    their own names, e.g. {events: {user_id: partner_id, created_at: ts}}; every name it gives must be in the file."""
    event_type_map: dict[str, str] = {}
    """File values of `event_type` -> the vocabulary, e.g. {conversion: sale}; targets must be in event_types."""
    event_type_case_insensitive: bool = True
    """Match `event_type` (and event_type_map's keys) ignoring case and surrounding whitespace: `Click ` is
    `click`. On by default: vocabulary words never differ only in case, and exports often capitalise them."""
    max_quarantine_share: float = Field(0.05, ge=0, le=1)
    """--lenient refuses the load when a table has more than this share of its rows set aside."""

    @staticmethod
    def contract_columns() -> dict[str, tuple[str, ...]]:
        """Each input table's own columns, required and optional, in check order (features/contract/ says which
        are required); any other column of a table must be declared."""
        return {
            "partners": ("partner_id", "signup_at"),
            "events": ("partner_id", "ts", "event_type", "amount", "event_id", "currency"),
            "actions": ("partner_id", "ts", "action"),
            "surveys": ("partner_id", "ts", "score", "comment"),
        }

    def declared_columns(self, table: str) -> dict[str, ColumnType]:
        """The declared optional columns of `table` (name: type)."""
        return {
            "partners": self.partner_attributes,
            "events": self.event_extra_columns,
            "actions": self.action_extra_columns,
            "surveys": self.survey_extra_columns,
        }[table]

    @model_validator(mode="after")
    def _vocabulary_is_sane(self) -> DataConfig:
        if not self.event_types:
            raise ValueError("event_types must name at least one event type")
        if len(set(self.event_types)) != len(self.event_types):
            raise ValueError("event_types lists a type twice")
        folded = [self.fold_event_type(name) for name in self.event_types]
        if len(set(folded)) != len(folded):
            equal = sorted(name for name, key in zip(self.event_types, folded) if folded.count(key) > 1)
            raise ValueError(
                f"event_types lists types that are equal ignoring case and surrounding whitespace: {equal} "
                "(rename them, or set event_type_case_insensitive: false)"
            )
        unknown = sorted(set(self.money_event_types) - set(self.event_types))
        if unknown:
            raise ValueError(f"money_event_types names types not in event_types: {unknown}")
        return self

    @model_validator(mode="after")
    def _event_type_map_is_sane(self) -> DataConfig:
        unknown = {value: target for value, target in self.event_type_map.items() if target not in self.event_types}
        if unknown:
            raise ValueError(f"event_type_map maps to types not in event_types: {unknown}")
        vocabulary = {self.fold_event_type(name): name for name in self.event_types}
        seen: dict[str, str] = {}
        for value, target in self.event_type_map.items():
            key = self.fold_event_type(value)
            if not key:
                raise ValueError("event_type_map has an empty key")
            if vocabulary.get(key, target) != target:
                raise ValueError(f"event_type_map maps {value!r} to {target!r}, but {value!r} is the event type {vocabulary[key]!r} of event_types")
            if seen.get(key, target) != target:
                raise ValueError(
                    f"event_type_map maps {value!r} to {target!r} and an equal key (ignoring case and surrounding whitespace) to {seen[key]!r}"
                )
            seen[key] = target
        return self

    @model_validator(mode="after")
    def _columns_are_sane(self) -> DataConfig:
        own = self.contract_columns()
        for table, names in self.column_map.items():
            if table not in own:
                raise ValueError(f"column_map names an unknown table {table!r} (tables: {', '.join(own)})")
            allowed = own[table] + tuple(self.declared_columns(table))
            for file_column, target in names.items():
                if target not in allowed:
                    raise ValueError(
                        f"column_map.{table} maps {file_column!r} to {target!r}, not a column of {table} (allowed: {', '.join(allowed)})"
                    )
            targets = list(names.values())
            for target in dict.fromkeys(targets):
                sources = [file_column for file_column, name in names.items() if name == target]
                if len(sources) > 1:
                    raise ValueError(f"column_map.{table} maps {len(sources)} file columns to {target!r}: {', '.join(sources)}")
        for table in own:
            clash = sorted(set(own[table]) & set(self.declared_columns(table)))
            if clash:
                raise ValueError(f"declared columns of {table} repeat contract columns: {clash}")
        return self

    def fold_event_type(self, value: str) -> str:
        """`value` as event types are compared: without surrounding whitespace and lower-case when
        event_type_case_insensitive, else as it is."""
        return value.strip().lower() if self.event_type_case_insensitive else value

    def event_type_of(self, value: str) -> str | None:
        """The vocabulary word an input value stands for (itself, through event_type_map, and with
        event_type_case_insensitive the same ignoring case and surrounding whitespace); None if none.
        The one rule the data contract (per distinct value of a file) and the service (per request) apply."""
        if value in self.event_types:
            return value
        if value in self.event_type_map:
            return self.event_type_map[value]
        if self.event_type_case_insensitive:
            folded = self.fold_event_type(value)
            for known in (*self.event_types, *self.event_type_map):
                if self.fold_event_type(known) == folded:
                    return self.event_type_map.get(known, known)
        return None


class LabelsConfig(StrictModel):
    horizon_days: int = Field(30, ge=1, le=365)
    """H: labels look at events in [t, t + H)."""
    active_window_days: int = Field(30, ge=1, le=365)
    """A partner is active at t when it has a qualifying event in [t - this, t)."""
    qualifying_event_types: list[str] = [
        "login",
        "link_created",
        "click",
        "lead",
        "sale",
        "training_completed",
        "webinar_attended",
    ]
    """Event types that count as the partner's own activity (not payouts, not messages it was sent)."""


WindowDays = Annotated[int, Field(ge=1)]
"""A look-back window in days: one day at least (a window of 0 or fewer days would read nothing or the future)."""


class FeaturesConfig(StrictModel):
    windows_days: list[WindowDays] = [7, 30, 90, 180]
    """Look-back windows for counts and money per event type."""
    onboarding_hours: int = Field(72, ge=1)
    """Length of the onboarding period after sign-up."""
    trend_window_days: int = Field(30, ge=1)
    """Trend compares the last this-many days with the same number of days before."""
    slope_weeks: int = Field(12, ge=2)
    """Weeks of weekly activity that the activity slope is fitted on."""
    funnel_window_days: int = Field(90, ge=1)
    """Window of the click -> lead -> sale conversion features."""
    revenue_share_windows_days: list[WindowDays] = [30, 90]
    """Windows of the partner's share of program revenue."""


class SegmentsConfig(StrictModel):
    revenue_window_days: int = Field(90, ge=1)
    """Revenue that places a partner on the ladder is summed over this window."""
    star_min_tenure_days: int = Field(180, ge=0)
    """Star: in the program at least this long (6+ months)."""
    star_min_active_days_30: int = Field(12, ge=0, le=30)
    """Star: active on at least this many of the last 30 days (near daily: most working days of most weeks)."""
    star_min_revenue_share: float = Field(0.15, gt=0, le=1)
    """Star: a window revenue share of the program at or above this qualifies on its own (small programs)."""
    star_min_revenue_quantile: float = Field(0.7, gt=0, lt=1)
    """Star: or window revenue at or above this quantile among partners with any window revenue."""
    workhorse_min_tenure_days: int = Field(90, ge=0)
    """Workhorse: in the program at least this long (3+ months)."""
    workhorse_min_active_days_30: int = Field(4, ge=0, le=30)
    """Workhorse: active on at least this many of the last 30 days (regular)."""
    workhorse_min_revenue: float = Field(0.0, ge=0)
    """Workhorse: window revenue strictly above this."""
    sleeper_min_tenure_days: int = Field(90, ge=0)
    """Sleeper: in the program at least this long."""
    sleeper_min_silent_days: int = Field(30, ge=1)
    """Sleeper: no qualifying event for at least this many days."""
    downgrade_warning_days: int = Field(30, ge=1)
    """Flag partners whose trend moves them down the ladder within this many days."""
    in_play_window_days: int = Field(90, ge=1)
    """Segment shares and KPIs count partners with a qualifying event in this window (see docs/definitions.md)."""


class LightGBMConfig(StrictModel):
    n_estimators: int = Field(300, ge=1)
    """Upper bound on boosting rounds; early stopping picks the number."""
    learning_rate: float = Field(0.05, gt=0)
    """Shrinkage per round."""
    num_leaves: int = Field(31, ge=2)
    """Leaves per tree."""
    min_child_samples: int = Field(50, ge=1)
    """Minimum rows in a leaf."""
    feature_fraction: float = Field(0.8, gt=0, le=1)
    """Share of features tried per tree."""
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    """Share of rows sampled per tree."""
    bagging_freq: int = Field(1, ge=0)
    """Resample rows every this many rounds (0 disables bagging)."""
    lambda_l2: float = Field(1.0, ge=0)
    """L2 regularisation."""
    early_stopping_rounds: int = Field(50, ge=1)
    """Stop when the validation loss has not improved for this many rounds."""
    num_threads: int = Field(0, ge=0)
    """Threads for training; 0 uses every core."""


class TrainingConfig(StrictModel):
    experiment_name: str = "partner-churn"
    """MLflow experiment of training and backtest runs."""
    risk_model_name: str = "partner-churn-deactivation-risk"
    """Registered model name of the deactivation-risk model."""
    potential_model_name: str = "partner-churn-upgrade-potential"
    """Registered model name of the upgrade-potential model."""
    pair_model_name: str = "partner-churn-pair"
    """Registered model whose versions record the pairs of model versions put in force together; its alias
    `champion` is the pair that scores and serves."""
    cutoff_frequency_days: int = Field(14, ge=1)
    """Days between consecutive training cutoffs (rolling origin)."""
    train_cutoffs: int = Field(12, ge=2)
    """Number of cutoffs whose rows train the model (at least 2: one cutoff is no rolling origin)."""
    validation_cutoffs: int = Field(1, ge=1)
    """Later cutoffs used for early stopping."""
    calibration_cutoffs: int = Field(1, ge=1)
    """Still later cutoffs used to fit the calibrator."""
    backtest_folds: int = Field(4, ge=1)
    """Rolling-origin folds: the whole procedure (fit, early stopping, calibration) is refitted at each of this
    many origins, the newest cutoffs one step apart, and judged on the origin's labels."""
    calibration: Literal["auto", "isotonic", "sigmoid"] = "auto"
    """Calibration method; auto picks the one with the lower Brier score on held-out rows."""
    min_positive_labels: int = Field(50, ge=1)
    """Refuse to train the risk model when a split has fewer positive (or negative) labels than this; a cutoff
    plan fitted to a short or small program is laid out to reach it."""
    min_upgrade_labels: int = Field(50, ge=1)
    """Refuse to train the upgrade model when a split has fewer upgrades (or non-upgrades) than this (its own
    bar: lowering it leaves the cutoff plan as it is)."""
    promotion_min_gain_over_recency: float = Field(0.01, ge=0)
    """Promote only if the folds' mean ROC-AUC beats the gate baseline's (the recency rule or BG/NBD for risk,
    whichever is better; the best baseline for potential) by at least this much."""
    promotion_max_loss_vs_champion: float = Field(0.0, ge=0)
    """Promote only if the folds' mean ROC-AUC is at most this much below the champion's procedure judged on
    the same folds of the same data."""
    max_partners: int = Field(0, ge=0)
    """Train and backtest on a uniform sample of at most this many partners, every cutoff of each (0: all).
    The sample is fixed by each partner's id (the same partners on every engine and run) and needs no
    weights: base rates and calibration stay the program's. For programs whose rows would not fit one
    process (about 13 rows a partner at the default plan)."""
    lightgbm: LightGBMConfig = LightGBMConfig()
    """LightGBM parameters shared by both models."""
    seed: int = 42
    """Seed of every random choice in training."""


class ScoringConfig(StrictModel):
    risk_band_medium: float = Field(0.2, gt=0, lt=1)
    """Deactivation risk at or above this is 'medium'."""
    risk_band_high: float = Field(0.5, gt=0, lt=1)
    """Deactivation risk at or above this is 'high'."""
    potential_band_high: float = Field(0.3, gt=0, lt=1)
    """Upgrade potential at or above this is 'high' (below: 'low')."""
    unpaid_commission_min: float = Field(50.0, ge=0)
    """Flag unpaid commission when the pending payout amount is at least this..."""
    unpaid_commission_min_days: int = Field(14, ge=0)
    """...and the last payout request is at least this many days old."""
    falling_trend_max: float = Field(-0.3, ge=-1, le=0)
    """Flag a falling trend when activity_trend_30d is at or below this."""
    onboarding_window_days: int = Field(14, ge=1)
    """Flag 'no activity in the first 72 hours' for partners younger than this with no onboarding events."""
    reasons_per_partner: int = Field(3, ge=1, le=10)
    """Reasons in words shown for each partner."""
    model_reasons_top: int = Field(2_000, ge=0)
    """Model (TreeSHAP) reasons for at least this many partners at the top of the list, besides every
    partner whose risk band or potential band a model score decides; the rest get their own facts."""
    lang: Literal["en", "ru"] = "en"
    """Language of reasons, actions and the report."""
    top_in_report: int = Field(50, ge=1)
    """Partners listed in the report's top table."""
    spreadsheet_rows: int = Field(10_000, ge=1)
    """Rows of risk_list.LANG.xlsx, in priority order (the CSV and Parquet hold every partner)."""
    actions_file: Path | None = None
    """Action table (YAML); empty uses configs/actions.yaml shipped with the project."""
    max_model_age_days: int = Field(45, ge=0)
    """score and the service warn when the models' newest training labels end more than this many days before
    the scoring date (`trained_through`)."""
    risk_trend_step: float = Field(0.05, gt=0, lt=1)
    """A change in deactivation risk since the previous scoring of at least this is shown as a rise (↑) or a
    fall (↓); a smaller one as steady (→)."""
    max_days_after_last_event: int = Field(7, ge=0)
    """score and monitor refuse a scoring date more than this many days after the data's last event (a stale
    export would show every partner as silent) unless --allow-stale is given."""
    ltv_horizon_months: int = Field(12, ge=1, le=60)
    """Partner LTV counts the revenue expected over this many months (`scoring.ltv`)."""


class ServingConfig(StrictModel):
    host: str = "127.0.0.1"
    """Address the scoring service binds to."""
    port: int = Field(3000, ge=1, le=65535)
    """Port of the scoring service."""
    workers: int = Field(2, ge=1)
    """BentoML worker processes."""
    listener_per_worker: bool = True
    """Each worker listens on a socket of its own (SO_REUSEPORT) so the kernel spreads new connections over
    the workers (`serving.listeners`); false: BentoML's one shared socket."""
    model_version: str | None = None
    """Pin registered versions: 'risk=3,potential=2', 'risk=3' (potential follows its champion) or '3' (both);
    empty serves the `champion` aliases."""

    @field_validator("model_version", mode="before")
    @classmethod
    def _pins_are_readable(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        text = str(value)
        try:
            parse_version_pins(text)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return text

    reload_interval_seconds: int = Field(60, ge=0)
    """How often the service checks for a new champion; 0 only on restart."""
    max_partners_per_request: int = Field(10_000, ge=1)
    """Bulk requests above this many partners are refused with HTTP 413."""
    max_events_per_partner: int = Field(50_000, ge=1)
    """Raw-events requests above this many events for one partner are refused."""
    reasons_in_bulk: bool = False
    """Reasons for every partner of a bulk request unless a record says otherwise (TreeSHAP costs about
    0.3-0.5 ms a partner; by default callers opt in per partner with `explain: true`)."""
    max_explained_per_request: int = Field(1_000, ge=1)
    """Partners whose reasons one request may ask for (each costs TreeSHAP time); more is HTTP 413."""
    max_request_bytes: int = Field(100_000_000, ge=1_000)
    """Request bodies above this many bytes are refused with HTTP 413 before they are read."""
    bulk_max_latency_ms: int = Field(10_000, ge=100)
    """BentoML's latency budget for a batch of bulk requests (adaptive batching); beyond it, HTTP 503."""


class MonitoringConfig(StrictModel):
    experiment_name: str = "partner-churn-monitoring"
    """MLflow experiment of the monitoring runs (one per check, tagged with the model versions checked)."""
    drift_share_threshold: float = Field(0.05, gt=0, le=1)
    """Dataset drift when at least this share of feature columns drifted (0.05: 4 of the 80 default features;
    a real change moves a family of features, see docs/definitions.md)."""
    numerical_method: Literal["wasserstein", "psi", "jensenshannon", "hellinger", "kl_div"] = "wasserstein"
    """Evidently drift method of numerical features (a distance: larger is more drift)."""
    numerical_threshold: float = Field(0.15, gt=0)
    """A numerical feature drifted when its distance reaches this (and its own bar, see natural_drift_factor)."""
    categorical_method: Literal["jensenshannon", "psi", "hellinger", "kl_div"] = "jensenshannon"
    """Evidently drift method of categorical features."""
    categorical_threshold: float = Field(0.1, gt=0)
    """A categorical feature drifted when its distance reaches this (and its own bar)."""
    natural_drift_factor: float = Field(3.0, ge=0)
    """A column's bar is at least this many times its drift within the reference (first half of the training
    cutoffs against the second): what moves by itself during training is not drift. 0 turns it off."""
    score_drift_threshold: float = Field(0.15, gt=0)
    """Score drift when a score's distribution moved at least this far (Wasserstein, normed; raised like a
    feature's bar by natural_drift_factor)."""
    tenure_bin_days: int = Field(15, ge=1)
    """Partners are compared with partners of the same tenure, in bins of this many days."""
    min_rows_per_tenure_bin: int = Field(20, ge=1)
    """A tenure bin is covered when the reference holds at least this many active partners in it."""
    min_tenure_coverage: float = Field(0.5, ge=0, le=1)
    """Watch when fewer current active partners than this share are as young as the training rows."""
    sample_size: int = Field(20_000, ge=100)
    """Rows of the training reference sample, and at most this many rows from each side of a drift comparison."""
    performance_tolerance: float = Field(0.05, ge=0)
    """Realized ROC-AUC may fall this far below the backtest's before the check fails."""
    calibration_tolerance: float = Field(0.05, ge=0)
    """Watch when the realized expected calibration error exceeds the backtest's by more than this."""
    watch_fraction: float = Field(0.5, gt=0, lt=1)
    """Watch when a check reaches this fraction of its alarm (drift share, score bar, performance tolerance)."""
    seed: int = 42
    """Seed of the reference sample and of every drift sampling."""


class EffectsConfig(StrictModel):
    min_rows_per_arm: int = Field(30, ge=2)
    """An action's effect (overall, in a segment or a risk band) is estimated only when each arm, contacted and
    held out, has at least this many rows whose horizon has passed; below it the verdict is 'too few rows'."""
    confidence: float = Field(0.95, gt=0.5, lt=1)
    """Confidence level of the effects' intervals; a verdict other than 'no evidence' needs the interval to
    exclude zero."""
    max_score_age_days: int = Field(7, ge=0)
    """An action's risk band is its partner's band in the latest scoring of the score history at most this many
    days before the action's day; actions without such a scoring have no band."""
    uplift_test_share: float = Field(0.3, gt=0, lt=1)
    """The latest share of an action's rows (by time) that judge its uplift model out of time; the model learns
    from the rows before them, and is refitted on all rows once it beats random targeting."""
    uplift_model_name: str = "partner-churn-action-uplift"
    """Registered MLflow model of the measured actions (uplift models, effects, evaluations); its alias
    `champion` is what scoring proposes measured actions by."""
    keep_rule_actions: list[str] = ["unpaid_commission_reminder"]
    """Actions of the action table that a measured action never replaces (money owed comes first)."""
    min_uplift: float = Field(0.03, ge=0, lt=1)
    """A predicted rise in the chance of staying active below this counts as none: an uplift model's noise of a
    point or two, times a large partner's revenue, must not buy a manager's call."""


class GeneratorConfig(StrictModel):
    partners: int = Field(20_000, ge=1)
    """Partners who sign up over the simulated period."""
    start_date: dt.date = dt.date(2025, 1, 1)
    """First day of the program."""
    months: int = Field(18, ge=1, le=120)
    """Length of the simulated period in months."""
    seed: int = 7
    """Same seed, same program, byte for byte."""
    scenarios: list[Literal["new_traffic_source", "commission_cut", "payout_delay"]] = []
    """Changes injected from scenario_from on (synthetic/scenarios.py); empty: the unchanged program."""
    scenario_from: dt.date | None = None
    """First day under the scenarios' rules (required with scenarios)."""


class ComputeConfig(StrictModel):
    engine: Literal["local", "dask"] = "local"
    """local: one process, pandas (the fastest for a program that fits in memory); dask: the same functions mapped over
    the partitions of a partitioned data folder (partner-churn partition) on a Dask cluster."""
    scheduler: str = ""
    """Address of an existing Dask scheduler (e.g. tcp://10.0.0.5:8786); empty: a LocalCluster on this machine."""
    workers: int = Field(2, ge=1, le=1024)
    """Workers of the LocalCluster (one thread each)."""
    processes: bool = True
    """LocalCluster workers as processes (true: each its own memory and core) or as threads of the command's process."""
    memory_limit: str = "8GiB"
    """Memory limit of each LocalCluster worker (Dask's format, e.g. 8GiB, or 'auto')."""
    connect_timeout_seconds: float = Field(10.0, gt=0, le=600)
    """How long a command waits to reach compute.scheduler before it fails in one line."""


class Config(StrictModel):
    paths: PathsConfig = PathsConfig()
    """Where inputs, outputs and stores live."""
    data: DataConfig = DataConfig()
    """The data contract's configurable parts."""
    labels: LabelsConfig = LabelsConfig()
    """Activity and label definitions."""
    features: FeaturesConfig = FeaturesConfig()
    """Feature windows."""
    segments: SegmentsConfig = SegmentsConfig()
    """Segment thresholds (the design's table)."""
    training: TrainingConfig = TrainingConfig()
    """Rolling-origin training, calibration, backtest and promotion."""
    scoring: ScoringConfig = ScoringConfig()
    """Risk bands, flags, reasons and actions of the daily scoring."""
    serving: ServingConfig = ServingConfig()
    """The scoring service."""
    monitoring: MonitoringConfig = MonitoringConfig()
    """Drift and realized-performance checks."""
    effects: EffectsConfig = EffectsConfig()
    """Measured effects of logged retention actions (partner-churn effects)."""
    generator: GeneratorConfig = GeneratorConfig()
    """Defaults of the synthetic program generator."""
    compute: ComputeConfig = ComputeConfig()
    """Where the work runs: this process, or a Dask cluster over partitions of whole partners."""

    @model_validator(mode="after")
    def _sections_agree(self) -> Config:
        unknown = sorted(set(self.labels.qualifying_event_types) - set(self.data.event_types))
        if unknown:
            raise ValueError(f"labels.qualifying_event_types names types not in data.event_types: {unknown}")
        if self.segments.revenue_window_days not in self.features.windows_days:
            raise ValueError(
                f"segments.revenue_window_days ({self.segments.revenue_window_days}) must be one of "
                f"features.windows_days {self.features.windows_days}: segments read the revenue_<w>d feature"
            )
        if self.scoring.risk_band_medium >= self.scoring.risk_band_high:
            raise ValueError("scoring.risk_band_medium must be below scoring.risk_band_high")
        if self.segments.downgrade_warning_days > self.segments.revenue_window_days:
            raise ValueError("segments.downgrade_warning_days must not exceed segments.revenue_window_days")
        return self


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
) -> Config:
    """Build the effective config: defaults, then the YAML file, then the environment, then `--set` pairs."""
    env = os.environ if env is None else env
    if path is None and env.get(ENV_CONFIG_FILE):
        path = Path(env[ENV_CONFIG_FILE])
    merged: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        merged = _read_yaml(path)
        source = str(path)
    for key, raw in sorted(env.items()):
        if key.startswith(ENV_PREFIX):
            dotted = key[len(ENV_PREFIX) :].lower().replace("__", ".")
            _set_dotted(merged, dotted, _parse_value(raw), f"environment variable {key}")
            source += f" + {key}"
    if env.get("MLFLOW_TRACKING_URI"):
        _set_dotted(merged, "paths.mlflow_tracking_uri", env["MLFLOW_TRACKING_URI"], "MLFLOW_TRACKING_URI")
    for pair in overrides:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected section.key=value")
        dotted, raw = pair.split("=", 1)
        _set_dotted(merged, dotted.strip(), _parse_value(raw), f"--set {pair}")
        source += f" + --set {dotted.strip()}"
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"config error ({source}): {describe_errors(exc)}") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(loaded).__name__}")
    return loaded


def _parse_value(raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _set_dotted(target: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    keys = [k for k in dotted.split(".") if k]
    if not keys:
        raise ConfigError(f"{origin}: empty config key")
    node = target
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: {key} is a value, not a section")
        node = child
    node[keys[-1]] = value


def describe_errors(exc: ValidationError) -> str:
    """One line per problem, each naming the dotted key; unknown keys list the allowed ones."""
    problems = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(err["loc"][:-1])
            problems.append(f"unknown key '{loc}' (allowed here: {', '.join(allowed)})")
        else:
            where = f"'{loc}'" if loc else "config"
            problems.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(problems)


def _allowed_keys(loc: Sequence[Any]) -> list[str]:
    model: type[BaseModel] = Config
    for part in loc:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def anchored(config: Config, base: Path) -> Config:
    """`config` with every relative path, and a relative SQLite tracking URI, made absolute against `base`:
    for processes that run in another folder (the service's workers run in the repository)."""
    paths = {
        name: (value if value.is_absolute() else (base / value).resolve())
        for name, value in config.paths.model_dump().items()
        if isinstance(value, Path)
    }
    uri = config.paths.mlflow_tracking_uri
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = "sqlite:///" + str((base / uri[len("sqlite:///") :]).resolve())
    actions = config.scoring.actions_file
    scoring = config.scoring.model_copy(update={"actions_file": base / actions if actions and not actions.is_absolute() else actions})
    return config.model_copy(update={"paths": config.paths.model_copy(update={**paths, "mlflow_tracking_uri": uri}), "scoring": scoring})


def render_yaml(config: BaseModel, indent: int = 0) -> str:
    """The config as YAML, each key preceded by its docstring as a comment."""
    lines: list[str] = []
    pad = "  " * indent
    for name, field in type(config).model_fields.items():
        value = getattr(config, name)
        if field.description:
            lines += [f"{pad}# {line.strip()}" for line in field.description.splitlines()]
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{name}:")
            lines.append(render_yaml(value, indent + 1).rstrip("\n"))
        else:
            dumped = yaml.safe_dump(_plain(value), default_flow_style=True, sort_keys=False, width=10_000).strip()
            dumped = dumped.removesuffix("\n...").removesuffix("...").strip()
            lines.append(f"{pad}{name}: {dumped}")
        if indent == 0:
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
