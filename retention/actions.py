"""Targeted retention actions: risk and potential bands, partner flags, and the action table.

A partner's *state* for the action table is its segment, risk band, potential band and four flags:
4 x 4 x 2 x 16 = 512 states. The table (`configs/actions.yaml` by default) maps states to actions
through rules; the matching rule with the lowest priority number gives the partner's one primary
action. `ActionTable.load` checks the table against every one of the 512 states, so a gap (a state no
rule matches), a conflict (two rules of one priority matching one state) or a rule that can never win
is a config error when the table is loaded, never a surprise in a risk list.

Everything here is a pure function of its inputs, except `ActionTable.load`, which reads the file.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, get_args, get_origin

import numpy as np
import pandas as pd
import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from features.segments import SEGMENTS
from partner_churn.config import ScoringConfig, StrictModel
from partner_churn.domain import LANGS, POTENTIAL_BANDS, RISK_BANDS, UNAVAILABLE, potential_bands, risk_bands
from partner_churn.errors import ConfigError, InputError

FLAGS: tuple[str, ...] = ("commission_overdue", "no_onboarding_activity", "falling_trend", "downgrade_warning")
"""Boolean partner flags the action rules may test, in the order of the state enumeration."""

LANGUAGES = LANGS
"""Languages every action's title and description are written in."""

Channel = Literal["email", "phone", "in_app", "messenger", "manager"]
"""How the partner is reached; 'manager' is the partner's own manager, by whatever channel they use."""

Owner = Literal["automation", "partner_manager", "retention_team", "finance"]
"""Who carries the action out."""

ACTION_COLUMNS: tuple[str, ...] = ("action", "action_title", "action_description", "channel", "owner", "due_in_days")
"""Columns `assign_actions` returns."""

ANY: Final = "any"
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


# --------------------------------------------------------------------------- bands and flags


BAND_INPUTS: tuple[str, ...] = (
    "segment",
    "downgrade_warning",
    "tenure_days",
    "pending_payout_amount",
    "days_since_last_payout_request",
    "deactivation_risk",
    "upgrade_potential",
)
"""Columns bands and flags are read from, besides the onboarding and trend columns."""


def add_bands_and_flags(
    scored: pd.DataFrame,
    config: ScoringConfig,
    *,
    onboarding_column: str = "onboarding_events_72h",
    trend_column: str = "activity_trend_30d",
) -> pd.DataFrame:
    """A copy of `scored` with `risk_band`, `potential_band` and the flags the action rules test.

    `scored` holds the feature pipeline's columns plus `deactivation_risk` (NaN for partners not active
    at the cutoff) and `upgrade_potential`. See `bands_and_flags` for the definitions.
    """
    needed = [*BAND_INPUTS, onboarding_column, trend_column]
    missing = [c for c in needed if c not in scored.columns]
    if missing:
        raise InputError(f"scored frame: missing column(s) {missing} needed for risk bands, flags and actions")
    _refuse_nulls(scored, ["upgrade_potential", "downgrade_warning", "tenure_days", onboarding_column, trend_column])
    out = scored.copy()
    for name, values in bands_and_flags(scored, config, onboarding_column=onboarding_column, trend_column=trend_column).items():
        out[name] = values
    return out


def bands_and_flags(
    columns: Mapping[str, Any],
    config: ScoringConfig,
    *,
    onboarding_column: str = "onboarding_events_72h",
    trend_column: str = "activity_trend_30d",
) -> dict[str, np.ndarray]:
    """`risk_band`, `potential_band` and the FLAGS, as arrays, from a frame or a mapping of columns.

    Thresholds are `scoring.*`; every comparison is "at or above" / "at or below" the threshold, as the
    config's docstrings say. The onboarding and trend column names follow `features.onboarding_hours`
    and `features.trend_window_days`. The flag `commission_overdue` (a payout requested and still unpaid
    for long) is not the feature `unpaid_commission` (commission earned minus paid).
    """

    def numbers(name: str) -> np.ndarray:
        return np.asarray(columns[name], dtype=float)

    risk, potential = numbers("deactivation_risk"), numbers("upgrade_potential")
    # NaN compares False: no payout request ever means nothing is owed; no pending amount, likewise.
    pending, request_age = numbers("pending_payout_amount"), numbers("days_since_last_payout_request")
    return {
        "risk_band": risk_bands(risk, config),
        "potential_band": potential_bands(potential, config),
        "commission_overdue": (pending >= config.unpaid_commission_min) & (request_age >= config.unpaid_commission_min_days),
        "no_onboarding_activity": (numbers("tenure_days") < config.onboarding_window_days) & (numbers(onboarding_column) == 0),
        "falling_trend": numbers(trend_column) <= config.falling_trend_max,
        "downgrade_warning": np.asarray(columns["downgrade_warning"], dtype=bool),
    }


def _refuse_nulls(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    for column in columns:
        nulls = frame[column].isna()
        if nulls.any():
            examples = list(frame.index[nulls.to_numpy()][:3])
            raise InputError(f"scored frame: column {column!r} has {int(nulls.sum())} missing value(s) (rows {examples})")


# --------------------------------------------------------------------------- partner states


class PartnerState(NamedTuple):
    """What the action rules see of a partner: one of the 512 combinations."""

    segment: str
    risk_band: str
    potential_band: str
    flags: tuple[bool, ...]
    """Values of FLAGS, in that order."""

    def describe(self) -> str:
        """The state in one line, e.g. for an error message."""
        flags = ", ".join(f"{name}={'yes' if value else 'no'}" for name, value in zip(FLAGS, self.flags))
        return f"segment={self.segment}, risk_band={self.risk_band}, potential_band={self.potential_band}, {flags}"


def partner_states() -> list[PartnerState]:
    """Every state, in the order of `_state_codes` (the last flag varies fastest)."""
    return [
        PartnerState(segment, risk, potential, flags)
        for segment, risk, potential in itertools.product(SEGMENTS, RISK_BANDS, POTENTIAL_BANDS)
        for flags in itertools.product((False, True), repeat=len(FLAGS))
    ]


# --------------------------------------------------------------------------- the action table


class LocalizedText(StrictModel):
    """A text in every language of the reports."""

    en: str = Field(min_length=1)
    """English."""
    ru: str = Field(min_length=1)
    """Russian (the program owners' language)."""


class Action(StrictModel):
    """One retention action a partner may be given."""

    code: str
    """Stable identifier (lower_snake_case): the `action` column, API field and actions log value."""
    title: LocalizedText
    """Short name shown in the risk list."""
    description: LocalizedText
    """What exactly to do, for the person or automation that does it."""
    channel: Channel
    """How the partner is reached."""
    owner: Owner
    """Who carries it out."""
    due_in_days: int = Field(ge=0)
    """Days from scoring by which it should be done (0: the same day)."""
    cost: float = Field(0.0, ge=0)
    """What one contact costs, in the currency of the program's amounts (a person's time, a bonus paid): a
    measured action is proposed only where its expected saved revenue exceeds it."""

    @field_validator("code")
    @classmethod
    def _code_is_snake_case(cls, code: str) -> str:
        if not _CODE.match(code):
            raise ValueError(f"action code {code!r} must be lower_snake_case")
        return code


class Conditions(StrictModel):
    """What a partner must be for a rule to match; an omitted condition matches anything."""

    segments: list[str] | Literal["any"] = ANY
    """Segments the rule applies to, or 'any'."""
    risk_bands: list[str] | Literal["any"] = ANY
    """Risk bands (inactive, low, medium, high), or 'any'."""
    potential_bands: list[str] | Literal["any"] = ANY
    """Potential bands (low, high), or 'any'."""
    flags: dict[str, bool] = {}
    """Flag -> the value it must have; flags not listed may have either value."""

    @field_validator("segments", "risk_bands", "potential_bands", mode="before")
    @classmethod
    def _one_name_is_a_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value if value == ANY else [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"expected a list of names or 'any', got {value!r}")
        return value

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, value: list[str] | str) -> list[str] | str:
        return _known("segment", value, SEGMENTS)

    @field_validator("risk_bands")
    @classmethod
    def _known_risk_bands(cls, value: list[str] | str) -> list[str] | str:
        return _known("risk band", value, RISK_BANDS)

    @field_validator("potential_bands")
    @classmethod
    def _known_potential_bands(cls, value: list[str] | str) -> list[str] | str:
        return _known("potential band", value, POTENTIAL_BANDS)

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: dict[str, bool]) -> dict[str, bool]:
        unknown = [name for name in value if name not in FLAGS]
        if unknown:
            raise ValueError(f"unknown flag(s) {unknown} (known: {', '.join(FLAGS)})")
        return value

    def matches(self, state: PartnerState) -> bool:
        """Whether a partner in this state satisfies every condition."""
        return (
            (self.segments == ANY or state.segment in self.segments)
            and (self.risk_bands == ANY or state.risk_band in self.risk_bands)
            and (self.potential_bands == ANY or state.potential_band in self.potential_bands)
            and all(state.flags[FLAGS.index(name)] == wanted for name, wanted in self.flags.items())
        )


def _known(what: str, value: list[str] | str, known: Sequence[str]) -> list[str] | str:
    if value == ANY:
        return value
    if not value:
        raise ValueError(f"empty list of {what}s matches nobody: list at least one or write 'any'")
    unknown = [v for v in value if v not in known]
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown} (known: {', '.join(known)})")
    return value


class Rule(StrictModel):
    """Partners matching `when` get `action`, unless a rule with a lower priority number matches too."""

    action: str
    """Code of the action (one of the table's `actions`)."""
    priority: int
    """Lower numbers win; two rules of one priority must never match the same partner."""
    when: Conditions = Conditions()
    """Conditions; omitted, the rule matches every partner."""


class PersonalContact(StrictModel):
    """When a person's time is worth it: personal channels go to partners with enough money at stake, as many
    a day as each owner can handle; everyone else gets the automated series of their segment."""

    channels: list[Channel] = ["phone", "manager"]
    """Channels that take a person's time (a call, the partner's own manager)."""
    min_value_at_risk: dict[Channel, float] = {"phone": 10.0}
    """Per channel, the least value at risk (risk x expected revenue, program currency, over the horizon) that
    earns the contact: a call about risk is worth the money it may save. A channel not listed: no minimum."""
    min_expected_revenue: dict[Channel, float] = {"manager": 100.0}
    """Per channel, the least expected revenue over the horizon that earns the contact: a personal manager
    or exclusive terms are worth what the partner brings, at any risk. A channel not listed: no minimum."""
    daily_capacity: dict[Owner, int] = {"retention_team": 20, "partner_manager": 20}
    """Per owner, personal contacts a day; the most valuable first, each due on the first day with room,
    up to its action's `due_in_days`. An owner not listed has no limit."""
    automated: dict[str, str]
    """Per segment, the automated action a partner gets instead of a personal contact (every segment)."""

    @field_validator("min_value_at_risk", "min_expected_revenue")
    @classmethod
    def _not_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not v >= 0}
        if bad:
            raise ValueError(f"a minimum must be 0 or more, got {bad}")
        return value

    @field_validator("daily_capacity")
    @classmethod
    def _at_least_one(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if v < 1}
        if bad:
            raise ValueError(f"a daily capacity must be at least 1 contact, got {bad} (leave the owner out for no limit)")
        return value


PERSONAL_CONTACT_OUTCOMES = ("", "scheduled", "below_minimum_value", "over_capacity")
"""The `personal_contact` column: '' (the action takes no person's time), scheduled (due on `due_in_days`),
below_minimum_value or over_capacity (the automated series of the segment instead)."""


class ActionTable(StrictModel):
    """The action catalogue and the rules that pick one primary action per partner.

    Valid by construction: every rule names a known action, every one of the 512 partner states is
    matched, no two rules of one priority share a state, every rule is the primary one somewhere, and
    every segment has an automated action to fall back on when a personal contact is not worth it.
    """

    actions: list[Action] = Field(min_length=1)
    """Every action a rule may give."""
    rules: list[Rule] = Field(min_length=1)
    """Rules; the order in the file does not matter, priorities do."""
    personal_contact: PersonalContact | None = None
    """Who gets a person's time, and how many a day; required when an action takes a person's time."""
    _primary: tuple[int, ...] = PrivateAttr()

    @model_validator(mode="after")
    def _rules_cover_every_partner_once(self) -> ActionTable:
        codes = [a.code for a in self.actions]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"action code(s) {twice} defined more than once")
        for i, rule in enumerate(self.rules):
            if rule.action not in codes:
                raise ValueError(f"{_label(i, rule)}: unknown action code {rule.action!r} (defined: {', '.join(codes)})")

        states = partner_states()
        matched = np.array([[rule.when.matches(s) for s in states] for rule in self.rules])
        for i, j in itertools.combinations(range(len(self.rules)), 2):
            if self.rules[i].priority == self.rules[j].priority:
                both = np.flatnonzero(matched[i] & matched[j])
                if both.size:
                    raise ValueError(
                        f"conflict: {_label(i, self.rules[i])} and {_label(j, self.rules[j])} have the same priority and "
                        f"both match {both.size} partner state(s), e.g. {states[both[0]].describe()}"
                    )
        unmatched = np.flatnonzero(~matched.any(axis=0))
        if unmatched.size:
            raise ValueError(
                f"gap: {unmatched.size} of {len(states)} partner states match no rule, e.g. "
                f"{states[unmatched[0]].describe()} (add a rule, or a catch-all rule without `when`)"
            )
        self._check_personal_contact(codes)
        primary = _first_match(self.rules, matched)
        self._primary = tuple(primary.tolist())  # a tuple, so that tables still compare equal
        return self._check_every_rule_applies(primary)

    def _check_personal_contact(self, codes: list[str]) -> None:
        """A table with actions that take a person's time says who earns one, and what every segment gets instead."""
        personal = self.personal_contact
        if personal is None:
            needy = [a.code for a in self.actions if a.channel in PersonalContact.model_fields["channels"].default]
            if needy:
                raise ValueError(
                    f"action(s) {needy} take a person's time: add a personal_contact section (channels, minimums, "
                    "daily_capacity, and the automated action of every segment)"
                )
            return
        missing = [segment for segment in SEGMENTS if segment not in personal.automated]
        if missing:
            raise ValueError(f"personal_contact.automated: no automated action for segment(s) {missing}")
        for segment, code in personal.automated.items():
            if segment not in SEGMENTS:
                raise ValueError(f"personal_contact.automated: unknown segment {segment!r} (known: {', '.join(SEGMENTS)})")
            if code not in codes:
                raise ValueError(f"personal_contact.automated.{segment}: unknown action code {code!r} (defined: {', '.join(codes)})")
            fallback = self.action(code)
            if fallback.channel in personal.channels or fallback.owner != "automation":
                raise ValueError(
                    f"personal_contact.automated.{segment}: {code!r} is not automated (channel {fallback.channel}, owner "
                    f"{fallback.owner}); name an action owned by automation on a channel outside {personal.channels}"
                )

    def _check_every_rule_applies(self, primary: np.ndarray) -> ActionTable:
        for i, rule in enumerate(self.rules):
            if not (primary == i).any():
                raise ValueError(f"{_label(i, rule)} never applies: every partner it matches is taken by a rule with a lower priority number")
        return self

    @classmethod
    def load(cls, path: Path) -> ActionTable:
        """Read and check an action table; any problem is a one-line ConfigError naming the file and rule."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: action table not found")
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}:" if mark is not None else ""
            raise ConfigError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping with 'actions' and 'rules' at the top level")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"{path}: {_describe(exc, raw)}") from None

    def action(self, code: str) -> Action:
        """The action with this code."""
        for action in self.actions:
            if action.code == code:
                return action
        raise KeyError(code)

    def primary_rules(self) -> np.ndarray:
        """Index into `rules` of the primary rule of each state of `partner_states()` (found at load)."""
        return np.array(self._primary)

    def primary_action(self, state: PartnerState) -> str:
        """Code of the primary action of one partner state."""
        return self.rules[int(self.primary_rules()[partner_states().index(state)])].action


def _first_match(rules: Sequence[Rule], matched: np.ndarray) -> np.ndarray:
    """Per state, the index of the matching rule with the lowest priority number (-1 if none)."""
    order = sorted(range(len(rules)), key=lambda i: rules[i].priority)
    primary = np.full(matched.shape[1], -1)
    for i in reversed(order):
        primary[matched[i]] = i
    return primary


def _label(index: int, rule: Rule | Mapping[str, Any]) -> str:
    if isinstance(rule, Rule):
        action, priority = rule.action, rule.priority
    else:
        action, priority = rule.get("action", "?"), rule.get("priority", "?")
    return f"rule {index + 1} ({action}, priority {priority})"


def _describe(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    """Pydantic's errors as one line, each naming the rule or action and the key."""
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] in ("rules", "actions") and isinstance(loc[1], int):
            items = raw.get(str(loc[0])) or []
            item = items[loc[1]] if loc[1] < len(items) and isinstance(items[loc[1]], dict) else {}
            if loc[0] == "rules":
                where = _label(loc[1], item) + ": "
            else:
                where = f"action {loc[1] + 1} ({item.get('code', '?')}): "
            loc = loc[2:]
        key = ".".join(str(part) for part in loc if not isinstance(part, int))
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(_model_at(err["loc"][:-1]).model_fields)
            problems.append(f"{where}unknown key '{key}' (allowed here: {allowed})")
        elif key:
            problems.append(f"{where}'{key}': {message}")
        else:
            problems.append(f"{where}{message}")
    return "; ".join(problems)


def _model_at(loc: Sequence[Any]) -> type[StrictModel]:
    model: type[StrictModel] = ActionTable
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation
        if get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        if not (isinstance(annotation, type) and issubclass(annotation, StrictModel)):
            break
        model = annotation
    return model


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML would keep the last silently)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice in one mapping", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def default_actions_path() -> Path:
    """The action table shipped with the project (used when `scoring.actions_file` is empty)."""
    return Path(__file__).resolve().parents[1] / "configs" / "actions.yaml"


def load_action_table(config: ScoringConfig) -> ActionTable:
    """The configured action table: `scoring.actions_file`, or the shipped default."""
    return ActionTable.load(config.actions_file if config.actions_file is not None else default_actions_path())


# --------------------------------------------------------------------------- assigning actions


def _state_codes(columns: Mapping[str, Any]) -> np.ndarray:
    """Position of each row's state in `partner_states()`."""
    missing = [c for c in ("segment", "risk_band", "potential_band", *FLAGS) if c not in columns]
    if missing:
        raise InputError(f"scored frame: missing column(s) {missing}; run add_bands_and_flags first")
    code: np.ndarray | None = None
    for column, values in (("segment", SEGMENTS), ("risk_band", RISK_BANDS), ("potential_band", POTENTIAL_BANDS)):
        known = {v: i for i, v in enumerate(values)}
        if column != "segment":
            known[UNAVAILABLE] = known["low"]  # a score without its model: the rules read the lowest band
        labels = np.asarray(columns[column], dtype=object)
        position = np.fromiter((known.get(v, -1) for v in labels), np.int64, len(labels))
        if (position < 0).any():
            bad = sorted({str(v) for v in labels[position < 0]})[:5]
            raise InputError(f"scored frame: column {column!r} holds unknown value(s) {bad} (known: {', '.join(values)})")
        code = position if code is None else code * len(values) + position
    assert code is not None
    for flag in FLAGS:
        flag_values = np.asarray(columns[flag], dtype=object)
        if not set(flag_values.tolist()) <= {True, False}:
            raise InputError(f"scored frame: flag column {flag!r} must be boolean without missing values")
        code = code * 2 + flag_values.astype(bool)
    return code


def assign_actions(scored: pd.DataFrame, table: ActionTable, lang: str) -> pd.DataFrame:
    """The primary action of every partner, aligned with `scored`'s index (see `action_columns`)."""
    return pd.DataFrame(action_columns(scored, table, lang), index=scored.index)


def fit_personal_contacts(
    columns: Mapping[str, Any], actions: Mapping[str, np.ndarray], table: ActionTable, lang: str, *, capacity: bool
) -> dict[str, np.ndarray]:
    """`actions` (from `action_columns`) with personal contacts given only where they are worth a person's time.

    A personal action (channel in `personal_contact.channels`) below its channel's minimum value at risk or
    expected revenue is replaced by the automated action of the partner's segment. With `capacity` (a whole
    population: the risk list), the contacts left are then fitted to each owner's daily capacity
    (`contacts_within_capacity`, `with_capacity_fallbacks`). Without it (a few partners of a service request)
    only the minimum applies. Adds `personal_contact` (see PERSONAL_CONTACT_OUTCOMES).
    """
    rules = table.personal_contact
    if rules is None:  # no action takes a person's time
        return {**actions, "personal_contact": np.full(len(np.asarray(actions["action"])), "", dtype=object)}
    value = np.nan_to_num(np.asarray(columns["value_at_risk"], dtype=float), nan=0.0)
    expected = np.nan_to_num(np.asarray(columns["expected_revenue"], dtype=float), nan=0.0)
    channel = np.asarray(actions["channel"], dtype=object)
    personal = np.isin(channel, rules.channels)
    least_at_risk = np.array([rules.min_value_at_risk.get(c, 0.0) for c in channel], dtype=float)
    least_expected = np.array([rules.min_expected_revenue.get(c, 0.0) for c in channel], dtype=float)
    outcome = np.where(personal, "scheduled", "").astype(object)
    outcome[personal & ((value < least_at_risk) | (expected < least_expected))] = "below_minimum_value"
    due = np.asarray(actions["due_in_days"], dtype=np.int64)
    fitted = _automated_where(actions, columns["segment"], outcome == "below_minimum_value", due, outcome, table, lang)
    if not capacity:
        return fitted
    due, outcome = contacts_within_capacity(columns["partner_id"], columns["value_at_risk"], fitted, table)
    return with_capacity_fallbacks(fitted, columns["segment"], due, outcome, table, lang)


def contacts_within_capacity(partner_id: Any, value_at_risk: Any, fitted: Mapping[str, Any], table: ActionTable) -> tuple[np.ndarray, np.ndarray]:
    """Each owner's scheduled personal contacts of a whole population (`fitted`: `fit_personal_contacts`
    without capacity) taken most valuable first (ties by `partner_id`), `daily_capacity` a day: a contact is
    due on the first day with room (0: today) and one that finds no room by its action's `due_in_days` is
    `over_capacity`. Returns the rows' `due_in_days` and `personal_contact`. The rows may be gathered from
    every partition of a program: they need only these columns, in any order."""
    due = np.asarray(fitted["due_in_days"], dtype=np.int64).copy()
    outcome = np.asarray(fitted["personal_contact"], dtype=object).copy()
    rules = table.personal_contact
    if rules is None:
        return due, outcome
    value = np.nan_to_num(np.asarray(value_at_risk, dtype=float), nan=0.0)
    owner = np.asarray(fitted["owner"], dtype=object)
    partner = np.asarray(partner_id, dtype=object).astype(str)
    for name, per_day in rules.daily_capacity.items():
        rows = np.flatnonzero((outcome == "scheduled") & (owner == name))
        ordered = rows[np.lexsort((partner[rows], -value[rows]))]
        day = np.arange(len(ordered)) // per_day
        fits = day <= due[ordered]
        due[ordered[fits]] = day[fits]
        outcome[ordered[~fits]] = "over_capacity"
    return due, outcome


def with_capacity_fallbacks(
    fitted: Mapping[str, Any], segment: Any, due: np.ndarray, outcome: np.ndarray, table: ActionTable, lang: str
) -> dict[str, np.ndarray]:
    """`fitted` with the due days and outcomes of `contacts_within_capacity`: an over-capacity contact gets the
    automated action of its segment."""
    if table.personal_contact is None:
        return dict(fitted)
    return _automated_where(fitted, segment, outcome == "over_capacity", due, outcome, table, lang)


def _automated_where(
    actions: Mapping[str, Any], segment: Any, replaced: np.ndarray, due: np.ndarray, outcome: np.ndarray, table: ActionTable, lang: str
) -> dict[str, np.ndarray]:
    """`actions` with `due_in_days` = `due` and `personal_contact` = `outcome`, and the automated action of
    their segment (`personal_contact.automated`) in the `replaced` rows."""
    rules = table.personal_contact
    assert rules is not None, "only a table with personal contacts replaces them"
    segment = np.asarray(segment, dtype=object)
    out = {name: np.asarray(values).copy() for name, values in actions.items()}
    due = np.asarray(due, dtype=np.int64).copy()
    for row in np.flatnonzero(replaced):
        fallback = table.action(rules.automated[segment[row]])
        out["action"][row], out["channel"][row], out["owner"][row] = fallback.code, fallback.channel, fallback.owner
        out["action_title"][row] = getattr(fallback.title, lang)
        out["action_description"][row] = getattr(fallback.description, lang)
        due[row] = fallback.due_in_days
    out["due_in_days"] = due
    out["personal_contact"] = outcome
    return out


def action_columns(columns: Mapping[str, Any], table: ActionTable, lang: str) -> dict[str, np.ndarray]:
    """The primary action of every row of a frame or a mapping of columns.

    Needs `segment`, `risk_band`, `potential_band` and the FLAGS columns (see `bands_and_flags`).
    Returns `action` (code), `action_title`, `action_description` (in `lang`), `channel`, `owner` and
    `due_in_days`.
    """
    if lang not in LANGUAGES:
        raise ConfigError(f"unknown language {lang!r} for actions (known: {', '.join(LANGUAGES)})")
    rule = table.primary_rules()[_state_codes(columns)]
    action_of_rule = [table.action(r.action) for r in table.rules]

    def column(values: Iterator[Any], dtype: Any = object) -> np.ndarray:
        return np.asarray(list(values), dtype=dtype)[rule]

    return {
        "action": column(a.code for a in action_of_rule),
        "action_title": column(getattr(a.title, lang) for a in action_of_rule),
        "action_description": column(getattr(a.description, lang) for a in action_of_rule),
        "channel": column(a.channel for a in action_of_rule),
        "owner": column(a.owner for a in action_of_rule),
        "due_in_days": column((a.due_in_days for a in action_of_rule), np.int64),
    }
