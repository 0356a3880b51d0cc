"""The service's OpenAPI description as the service really behaves: BentoML's generated spec, corrected.

BentoML derives `/docs.json` from the request and response models, but it cannot know what the
service's door (`serving.guard`) and validators do: every error is `{"error": text, "detail": [...]?}`
(its `InvalidArgument` says `detail` is a string); a partner record is either features or raw events
(pydantic checks that rule after the fields, so the generated schema allows both and neither); 401
with a token set, 413 for too many partners or bytes; GET /metadata and POST /score_arrow, which are mounted routes. And its
component names carry BentoML's internal `IODescriptor` suffix. `contract_spec` rewrites the generated
document into the real contract. Pure: a spec and the serving limits in, a new spec out.
"""

from __future__ import annotations

import copy
from typing import Any

from partner_churn.config import ServingConfig
from partner_churn.domain import LANGS
from serving.api import EVENTS_FIELDS, FEATURES_FIELDS, RECORD_FIELDS

ARROW_STREAM = "application/vnd.apache.arrow.stream"
"""The media type of POST /score_arrow's request and answer (the Arrow IPC streaming format)."""

INTERNAL_SUFFIX = "IODescriptor"
"""What BentoML appends to the names of request and response models."""
SCORING_PATHS = ("/score", "/score_bulk")
BODY_MEDIA_TYPES = {"/score": "application/json", "/score_bulk": "application/json", "/score_arrow": ARROW_STREAM}
"""The one media type each scoring path takes its body in (anything else: 415 at the door, `serving.guard`)."""

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "What is wrong, in one line."},
        "detail": {
            "type": "array",
            "description": "For a request that fails validation: one entry per problem.",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                        "description": "Where: field names and list positions from the body's top.",
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string", "description": "Pydantic's error type, e.g. float_type, missing, too_long."},
                },
            },
        },
    },
}
"""Every error answer of the service (see `serving.guard`)."""

METADATA = {
    "type": "object",
    "required": ["models", "answer_names", "loaded_at", "program", "horizon_days", "features"],
    "properties": {
        "models": {"type": "object", "description": "Per target, what the registry says of the version in use."},
        "answer_names": {"$ref": "#/components/schemas/ModelInfo"},
        "loaded_at": {"type": "string", "format": "date-time"},
        "program": {"type": "object", "description": "The program figures partners are measured against."},
        "horizon_days": {"type": "integer"},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "kind", "family", "description", "may_be_negative", "may_be_missing"],
                "properties": {
                    "name": {"type": "string"},
                    "kind": {"type": "string"},
                    "family": {"type": "string"},
                    "description": {"type": "string"},
                    "may_be_negative": {"type": "boolean"},
                    "may_be_missing": {"type": "boolean"},
                },
            },
        },
    },
}


def _error_answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _renamed(node: Any, old: str, new: str) -> Any:
    """`node` with every component name and `$ref` `old` replaced by `new`."""
    if isinstance(node, dict):
        return {(new if key == old else key): _renamed(value, old, new) for key, value in node.items()}
    if isinstance(node, list):
        return [_renamed(item, old, new) for item in node]
    if isinstance(node, str) and node in (old, f"#/components/schemas/{old}"):
        return node.replace(old, new)
    return node


def _one_way(record: dict[str, Any], fields: tuple[str, ...], required: tuple[str, ...], title: str) -> dict[str, Any]:
    """One way in of a partner record: its fields only, the way's own ones required and not null."""
    properties = {}
    for name in fields:
        prop = copy.deepcopy(record["properties"][name])
        if name in required and "anyOf" in prop:  # `X | None` in the model: the way's own field is never null
            options = [option for option in prop.pop("anyOf") if option.get("type") != "null"]
            prop.pop("default", None)
            prop |= options[0] if len(options) == 1 else {"anyOf": options}
        properties[name] = prop
    return {"type": "object", "title": title, "required": list(required), "properties": properties, "additionalProperties": False}


def contract_spec(spec: dict[str, Any], limits: ServingConfig) -> dict[str, Any]:
    """BentoML's generated `spec` rewritten to the service's real contract (see the module's docstring)."""
    spec = copy.deepcopy(spec)
    for name in [name for name in spec.get("components", {}).get("schemas", {}) if name.endswith(INTERNAL_SUFFIX)]:
        spec = _renamed(spec, name, name.removesuffix(INTERNAL_SUFFIX))
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    for name in ("InvalidArgument", "NotFound", "InternalServerError"):
        schemas.pop(name, None)
    record = schemas["PartnerRecord"]
    assert set(record["properties"]) == set(RECORD_FIELDS), "serving.api.RECORD_FIELDS and PartnerRecord disagree"
    schemas["PartnerRecord"] = {
        "description": record.get("description", ""),
        "oneOf": [
            _one_way(record, FEATURES_FIELDS, ("partner_id", "features"), "FeaturesRecord"),
            _one_way(record, EVENTS_FIELDS, ("partner_id", "partner", "events"), "EventsRecord"),
        ],
    }
    schemas["Metadata"] = METADATA
    spec["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "Required when the service runs with PARTNER_CHURN_API_TOKEN set."}
    }
    guarded: list[dict[str, list[str]]] = [{"bearer": []}]
    unauthorized = _error_answer("Missing or wrong bearer token (only when the service runs with PARTNER_CHURN_API_TOKEN set).")
    for path in SCORING_PATHS:
        operation = spec["paths"][path]["post"]
        operation["requestBody"]["required"] = True
        operation["security"] = guarded
        operation["responses"] = {
            "200": operation["responses"]["200"],
            "400": _error_answer("The body is not JSON, or a record breaks the contract; `detail` lists every problem."),
            "415": _error_answer("A body that is not application/json."),
            "401": unauthorized,
            "413": _error_answer(
                f"More than {limits.max_partners_per_request:,} partners, reasons for more than {limits.max_explained_per_request:,}, "
                f"or a body above {limits.max_request_bytes:,} bytes."
            ),
            "500": _error_answer("An unexpected fault (the server's log says more)."),
        }
    spec["paths"]["/score_arrow"] = {
        "post": {
            "tags": ["Service APIs"],
            "operationId": "partner_churn__score_arrow",
            "description": (
                "/score_bulk's feature records as one table of columns, an Arrow IPC stream: partner_id, every feature GET /metadata "
                "lists (by name), and optionally downgrade_warning and explain (booleans; explain null or absent: serving.reasons_in_bulk). "
                "Every rule of the JSON records holds per column. The answer is an Arrow IPC stream of PartnerScore's fields as columns, "
                "the answering models (ModelInfo, JSON) in the schema's metadata under 'model'."
            ),
            "security": guarded,
            "parameters": [
                {
                    "name": "lang",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": list(LANGS)},
                    "description": "Language of reasons and actions (default: scoring.lang).",
                }
            ],
            "requestBody": {"required": True, "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {
                "200": {
                    "description": "One row per partner, in the request's order.",
                    "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
                },
                "400": _error_answer(
                    "Not an Arrow IPC stream, unknown or missing columns, or values that break the contract; `detail` names each column."
                ),
                "415": _error_answer(f"A body that is not {ARROW_STREAM}."),
                "401": unauthorized,
                "413": _error_answer(
                    f"More than {limits.max_partners_per_request:,} rows, reasons for more than {limits.max_explained_per_request:,}, "
                    f"or a body above {limits.max_request_bytes:,} bytes."
                ),
                "500": _error_answer("An unexpected fault (the server's log says more)."),
            },
        }
    }
    spec["paths"]["/metadata"] = {
        "get": {
            "tags": ["Service APIs"],
            "operationId": "partner_churn__metadata",
            "description": "The models answering (names, versions, backtest), the program snapshot and the feature schema.",
            "security": guarded,
            "responses": {
                "200": {
                    "description": "The service's models and features.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Metadata"}}},
                },
                "401": unauthorized,
            },
        }
    }
    metrics = spec["paths"].get("/metrics", {}).get("get")
    if metrics is not None:
        metrics["security"] = guarded
        metrics["responses"]["401"] = unauthorized
        metrics["description"] = "Prometheus metrics; behind the bearer token like scoring when one is set (scrape with `authorization: bearer`)."
    return spec
