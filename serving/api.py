"""The scoring service's request and response models, derived from the one feature schema.

Every feature of `feature_schema(config)` is a required field of `Features` with its type: counts are
non-negative integers, other numbers finite floats (non-negative unless the schema says the feature
runs both ways), and `null` where the pipeline itself leaves a value missing (no sale yet: no
`days_since_last_sale`). Unknown fields, wrong types, NaN and infinities are refused by pydantic, which
BentoML answers with HTTP 400 naming the field. Every field is strict, raw-events records as much as
feature records: `"120"` or `true` is not an amount, `"yes"` not a boolean, a timestamp is an RFC 3339
date-time string. The number of partners is checked before any record is validated (see
`RequestBody.model_validate_json`). Pure: config in, classes out, no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any, ClassVar, Literal, Self

from bentoml.exceptions import BentoMLException
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from features.contract.tables import SURVEY_SCORE_RANGE
from features.schema import SURVEYS, FeatureSpec, feature_schema
from features.segments import SEGMENTS
from partner_churn.config import Config
from partner_churn.domain import LANGS as LANGUAGES
from partner_churn.domain import POTENTIAL_BANDS, RISK_BANDS, TREND_ARROWS, UNAVAILABLE, VALID_FROM, VALID_UNTIL
from retention.measured import ACTION_BASES


class PayloadTooLarge(BentoMLException):
    """More partners (or bytes) in one request than the service takes: HTTP 413."""

    error_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class StrictInput(BaseModel):
    """Request bodies: unknown fields are errors, never silently dropped, and no value is coerced from
    another JSON type (a string is not a number, a number not a boolean or a timestamp)."""

    model_config = ConfigDict(extra="forbid", strict=True)


PARTNER_KEY = re.compile(rb'"partner_id"\s*:')
"""A record's one required key as it appears in the raw body: counted before the body is parsed."""


class RequestBody(StrictInput):
    """A request of `partners`, refused with 413 before validation when it holds more than `max_partners`."""

    max_partners: ClassVar[int]

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """BentoML's entry point for a request body. The partner records are counted in the raw bytes
        first (a C-speed scan: 95 MB in well under a second, nothing parsed), so an oversized request
        costs neither parsing nor memory. Keys written with escapes escape that count, not the limit:
        `partners` has `max_length`, which pydantic checks before validating any record."""
        raw = json_data.encode() if isinstance(json_data, str) else bytes(json_data)
        counted = sum(1 for _ in PARTNER_KEY.finditer(raw))
        if counted > cls.max_partners:
            raise PayloadTooLarge(too_many_partners(counted, cls.max_partners))
        try:
            return super().model_validate_json(raw, **kwargs)
        except ValidationError as exc:
            too_long = [e for e in exc.errors(include_url=False) if e["type"] == "too_long" and tuple(e["loc"]) == ("partners",)]
            if too_long:
                raise PayloadTooLarge(too_many_partners(int(too_long[0]["ctx"]["actual_length"]), cls.max_partners)) from None
            raise


BY_FEATURES, BY_EVENTS, EITHER_WAY = ("features", "downgrade_warning"), ("partner", "events", "surveys", "as_of"), ("partner_id", "explain")
"""The two ways a partner record comes in (`PartnerRecord._one_way_in`), by their fields."""
FEATURES_FIELDS, EVENTS_FIELDS = ("partner_id", *BY_FEATURES, "explain"), ("partner_id", *BY_EVENTS, "explain")
RECORD_FIELDS = (*EITHER_WAY, *BY_FEATURES, *BY_EVENTS)


def too_many_partners(count: int, limit: int) -> str:
    return f"partners: {count:,} in one request; at most {limit:,} (serving.max_partners_per_request)"


def too_many_explained(count: int, limit: int) -> str:
    return (
        f"partners: reasons asked for {count:,} partners; at most {limit:,} per request "
        "(serving.max_explained_per_request): set explain: false on the others"
    )


EARLIEST, LATEST = VALID_FROM.to_pydatetime(), VALID_UNTIL.to_pydatetime()
"""Timestamps outside [1970, 2200) are typos or placeholders, and outside what the pipeline counts in."""
LARGEST = 1e12
"""No count, amount or duration reaches this; beyond it a value is an error, not a partner."""


def _utc(moment: dt.datetime) -> dt.datetime:
    """Timestamps without a zone are UTC (as in the data contract); others are converted."""
    try:
        moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError(f"{moment.isoformat()} is outside {EARLIEST:%Y}..{LATEST:%Y}") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"{moment.isoformat()} is outside {EARLIEST:%Y}..{LATEST:%Y}")
    return moment


def _encodable(text: str) -> str:
    """Text that can be written back (lone UTF-16 surrogates cannot be)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (lone surrogate)") from None
    return text


UtcDatetime = Annotated[dt.datetime, AfterValidator(_utc)]
Text = Annotated[str, AfterValidator(_encodable)]


@dataclass(frozen=True)
class ApiModels:
    """The request and response classes of one config (its windows, event types and attributes)."""

    features: type[BaseModel]
    event: type[BaseModel]
    partner: type[BaseModel]
    record: type[BaseModel]
    score_request: type[BaseModel]
    bulk_request: type[BaseModel]
    schema: list[FeatureSpec]


def _feature_field(spec: FeatureSpec) -> tuple[Any, Any]:
    if spec.kind == "int":
        return int, Field(..., ge=0, le=int(LARGEST), description=spec.description)
    if spec.kind == "category":
        return Text | None, Field(..., min_length=1, max_length=200, description=spec.description)
    number = float | None if spec.may_be_missing else float
    required = None if SURVEYS in spec.event_types else ...  # from the optional surveys table: a client without surveys leaves them out
    return number, Field(required, allow_inf_nan=False, ge=-LARGEST if spec.may_be_negative else 0, le=LARGEST, description=spec.description)


def api_models(config: Config) -> ApiModels:
    """Build the service's pydantic models for `config`."""
    schema = feature_schema(config)
    limits = config.serving
    feature_fields: dict[str, Any] = {spec.name: _feature_field(spec) for spec in schema}
    features_model = create_model(
        "Features",
        __base__=StrictInput,
        __doc__="Every model feature at the scoring time; see GET /metadata for definitions.",
        **feature_fields,
    )
    event_types = tuple(config.data.event_types)
    money_types = set(config.data.money_event_types)

    money_ways: list[dict[str, Any]] = [  # `_amount_where_money_moves`, stated in the schema: a money event has a number for amount
        {"properties": {"event_type": {"enum": [t for t in event_types if t in money_types]}, "amount": {"type": "number"}}, "required": ["amount"]},
        {"properties": {"event_type": {"enum": [t for t in event_types if t not in money_types]}}},
    ]
    money_rule: dict[str, Any] = {"anyOf": [way for way in money_ways if way["properties"]["event_type"]["enum"]]} if money_types else {}

    class Event(StrictInput):
        """One raw event of the partner, as in the data contract's events table."""

        model_config = ConfigDict(json_schema_extra=money_rule)

        ts: UtcDatetime = Field(description="When it happened; without a zone, UTC.")
        event_type: Literal[event_types] = Field(  # type: ignore[valid-type]
            description="One of the configured event types (or a spelling data.event_type_map or case folding maps to one)."
        )
        amount: float | None = Field(None, ge=0, le=LARGEST, allow_inf_nan=False, description="Money; required for sales and payouts.")

        @field_validator("event_type", mode="before")
        @classmethod
        def _as_the_contract_reads_it(cls, value: Any) -> Any:
            return (config.data.event_type_of(value) or value) if isinstance(value, str) else value

        @model_validator(mode="after")
        def _amount_where_money_moves(self) -> Event:
            if self.event_type in money_types and self.amount is None:
                raise ValueError(f"amount is required for {self.event_type} events")
            return self

    class SurveyAnswer(StrictInput):
        """One answer of the partner to a satisfaction survey, as in the data contract's surveys table."""

        ts: UtcDatetime = Field(description="When the partner answered; without a zone, UTC.")
        score: float = Field(ge=SURVEY_SCORE_RANGE[0], le=SURVEY_SCORE_RANGE[1], allow_inf_nan=False, description="The answer, 0-10.")

    attribute_fields: dict[str, Any] = {}
    for name, column_type in config.data.partner_attributes.items():
        if column_type in ("float", "integer"):
            attribute_fields[name] = (
                float | None,
                Field(None, allow_inf_nan=False, ge=0, le=LARGEST, description=f"Declared attribute ({column_type})."),
            )
        elif column_type == "boolean":
            attribute_fields[name] = (bool | None, Field(None, description="Declared attribute (boolean)."))
        else:
            attribute_fields[name] = (Text | None, Field(None, max_length=200, description=f"Declared attribute ({column_type})."))
    partner_model = create_model(
        "Partner",
        __base__=StrictInput,
        __doc__="The partner's record, as in the data contract's partners table.",
        signup_at=(UtcDatetime, Field(description="Sign-up time; without a zone, UTC.")),
        **attribute_fields,
    )

    max_events = limits.max_events_per_partner

    class PartnerRecord(StrictInput):
        """One partner to score: either `features`, or `partner` with its raw `events` (time order)."""

        partner_id: Text = Field(min_length=1, max_length=200)
        features: features_model | None = Field(None, description="Precomputed features (as the batch pipeline writes them).")
        downgrade_warning: bool = Field(
            False, description="With `features`: whether the batch pipeline warned of a downgrade (it needs history the features lack)."
        )
        partner: partner_model | None = Field(None, description="With `events`: the partner's record.")
        events: list[Event] | None = Field(
            None, max_length=max_events, description=f"With `partner`: the partner's events in time order (at most {max_events:,})."
        )
        surveys: list[SurveyAnswer] | None = Field(
            None,
            max_length=max_events,
            description="With `events`: the partner's survey answers (optional; any order), after sign-up and before as_of.",
        )
        as_of: UtcDatetime | None = Field(None, description="With `events`: the scoring time (default: now); only earlier events count.")
        explain: bool | None = Field(None, description="Reasons in words for this partner (default: yes on /score, no on /score_bulk).")

        @model_validator(mode="after")
        def _one_way_in(self) -> PartnerRecord:
            by_features = self.features is not None
            by_events = self.partner is not None or self.events is not None
            if by_features == by_events:
                raise ValueError("give either `features`, or `partner` with `events`")
            if by_events and (self.partner is None or self.events is None):
                raise ValueError("`partner` and `events` go together")
            if by_features and self.as_of is not None:
                raise ValueError("`as_of` goes with `events`; features are already as of their time")
            if by_features and self.surveys is not None:
                raise ValueError("`surveys` go with `events`; with `features` give the survey features themselves")
            if by_events and "downgrade_warning" in self.model_fields_set:
                raise ValueError("`downgrade_warning` goes with `features`; from events the service computes it")
            if by_events:
                limit = self.as_of or dt.datetime.now(dt.UTC)
                if self.partner.signup_at >= limit:  # type: ignore[union-attr]
                    raise ValueError(f"partner.signup_at {self.partner.signup_at.isoformat()} is not before as_of {limit.isoformat()}")  # type: ignore[union-attr]
            if self.events:
                for i in range(1, len(self.events)):
                    if self.events[i].ts < self.events[i - 1].ts:
                        raise ValueError(
                            f"events[{i}].ts {self.events[i].ts.isoformat()} is before events[{i - 1}].ts "
                            f"{self.events[i - 1].ts.isoformat()}: events must be in time order"
                        )
                signup = self.partner.signup_at  # type: ignore[union-attr]
                if self.events[0].ts < signup:
                    raise ValueError(f"events[0].ts {self.events[0].ts.isoformat()} is before partner.signup_at {signup.isoformat()}")
                limit = self.as_of or dt.datetime.now(dt.UTC)
                if self.events[-1].ts >= limit:
                    raise ValueError(
                        f"events[{len(self.events) - 1}].ts {self.events[-1].ts.isoformat()} is not before as_of {limit.isoformat()}"
                        f"{'' if self.as_of else ' (now)'}: only earlier events count"
                    )
            for i, answer in enumerate(self.surveys or []):
                signup, limit = self.partner.signup_at, self.as_of or dt.datetime.now(dt.UTC)  # type: ignore[union-attr]
                if answer.ts < signup or answer.ts >= limit:
                    raise ValueError(
                        f"surveys[{i}].ts {answer.ts.isoformat()} is "
                        + (f"before partner.signup_at {signup.isoformat()}" if answer.ts < signup else f"not before as_of {limit.isoformat()}")
                    )
            return self

    def checked(partners: list[PartnerRecord], explain_by_default: bool) -> list[PartnerRecord]:
        explained = sum(explain_by_default if p.explain is None else p.explain for p in partners)
        if explained > limits.max_explained_per_request:
            raise PayloadTooLarge(too_many_explained(explained, limits.max_explained_per_request))
        first: dict[str, int] = {}
        for i, p in enumerate(partners):
            if p.partner_id in first:
                raise ValueError(f"partners[{i}].partner_id {p.partner_id!r} repeats partners[{first[p.partner_id]}]")
            first[p.partner_id] = i
        return partners

    most = limits.max_partners_per_request

    class ScoreRequest(RequestBody):
        """Partners to score, with reasons in words unless a record says `explain: false`."""

        model_config = ConfigDict(title="ScoreRequest")
        max_partners: ClassVar[int] = most
        partners: list[PartnerRecord] = Field(min_length=1, max_length=most, description=f"One or more partners (at most {most:,}).")
        lang: Literal[LANGUAGES] | None = Field(None, description="Language of reasons and actions (default: scoring.lang).")  # type: ignore[valid-type]

        @field_validator("partners")
        @classmethod
        def _within_limits(cls, partners: list[PartnerRecord]) -> list[PartnerRecord]:
            return checked(partners, explain_by_default=True)

    class BulkRequest(RequestBody):
        """Up to `serving.max_partners_per_request` partners; reasons only where a record asks (`explain: true`)."""

        model_config = ConfigDict(title="BulkRequest")
        max_partners: ClassVar[int] = most
        partners: list[PartnerRecord] = Field(min_length=1, max_length=most, description=f"At most {most:,} partners.")

        @field_validator("partners")
        @classmethod
        def _within_limits(cls, partners: list[PartnerRecord]) -> list[PartnerRecord]:
            return checked(partners, explain_by_default=limits.reasons_in_bulk)

    return ApiModels(
        features=features_model,
        event=Event,
        partner=partner_model,
        record=PartnerRecord,
        score_request=ScoreRequest,
        bulk_request=BulkRequest,
        schema=schema,
    )


class PartnerScore(BaseModel):
    """What the service says about one partner."""

    partner_id: str
    deactivation_risk: float | None = Field(
        description="Probability of going silent within the horizon; null when not active now or when the risk model is unavailable."
    )
    risk_band: Literal[(*RISK_BANDS, UNAVAILABLE)]  # type: ignore[valid-type]
    upgrade_potential: float | None = Field(
        description="Probability of climbing the segment ladder within the horizon; null when the potential model is unavailable."
    )
    potential_band: Literal[(*POTENTIAL_BANDS, UNAVAILABLE)]  # type: ignore[valid-type]
    segment: Literal[SEGMENTS]  # type: ignore[valid-type]
    downgrade_warning: bool
    value_at_risk: float = Field(description="Money at stake over the horizon (see docs/definitions.md).")
    action: str
    action_title: str
    due_in_days: int
    action_basis: Literal[ACTION_BASES] = Field(  # type: ignore[valid-type]
        description="measured: the action the action log measured to save most for this partner (partner-churn effects); rule: the action table's."
    )
    expected_saved_revenue: float | None = Field(
        description="For a measured action: its uplift x the revenue at stake over the horizon, net of the action's cost; null for a rule's action."
    )
    reasons: list[str] | None = Field(description="Up to three reasons in words; null when not asked for.")
    reasons_source: Literal["risk_model", "potential_model", "facts", "none"]
    as_of: dt.datetime | None = Field(description="Scoring time of a raw-events record; null for a features record.")
    previous_scoring: dt.datetime | None = Field(
        description="Time of the batch scoring this answer is compared with: the latest in the score history before the record's scoring time (a raw-events record's as_of; "
        "for a features record, the time of the request, so features taken from today's batch scoring are compared with that same scoring); null when there is none."
    )
    previous_segment: Literal[SEGMENTS] | None = Field(  # type: ignore[valid-type]
        description="The partner's segment at that scoring; null when it did not score the partner or there is none."
    )
    previous_risk: float | None = Field(description="Deactivation risk at that scoring; null when it gave none.")
    risk_change: float | None = Field(description="Deactivation risk now minus previous_risk; null when either is null.")
    risk_trend: Literal[tuple(TREND_ARROWS.values())] | None = Field(  # type: ignore[valid-type]
        description="↑ rose, ↓ fell, → steady (by less than scoring.risk_trend_step); null when risk_change is null."
    )
    weeks_in_high_band: int | None = Field(description="Whole weeks since the partner entered the high risk band; null when not in it.")
    high_band_since: dt.datetime | None = Field(
        description="The scoring time at which the partner entered the high risk band (now, if it just did); null when not in it."
    )


class ModelInfo(BaseModel):
    """Which registered models answered."""

    deactivation_risk: str = Field(description="e.g. partner-churn-deactivation-risk:v3, or ...:unavailable when no such model is in use")
    upgrade_potential: str
    program_as_of: str = Field(description="Date of the program figures (revenue shares, Star threshold) partners are measured against.")
    trained_through: str = Field(description="End of the newest labels the answering models learned from (the older of the two); empty if unknown.")
    pair: str = Field(
        description="The pair record in force when these models were loaded (`partner-churn models pairs`); empty for a pinned version."
    )
    measured_actions: str = Field(
        description="The measured actions by which an action_basis 'measured' was chosen, e.g. partner-churn-action-uplift:v2; "
        "empty when the action table chooses every action."
    )


class ScoreResponse(BaseModel):
    """Scores in the order of the request's partners, and the models that produced every one of them."""

    model: ModelInfo
    scores: list[PartnerScore]


class BulkScore(PartnerScore):
    """One partner's score from the bulk endpoint, naming its models (batches may straddle a model update)."""

    model: ModelInfo
