"""The scoring service on BentoML 1.4: `bentoml serve serving.service:PartnerChurn` (or `partner-churn serve`).

This module is the deployment's entry point, so it is the one edge that reads the configuration when
imported: `PARTNER_CHURN_CONFIG` and `PARTNER_CHURN__*` variables, as everywhere else. The request
models are derived from that config's feature schema; the models come from the MLflow registry when
the service starts (the `champion` aliases, or `serving.model_version`), and a background thread
checks every `serving.reload_interval_seconds` whether a new champion was promoted, loads it beside
the old one and swaps it in, so no request is dropped and none is answered by a mix of models.

Endpoints: POST /score (reasons by default), POST /score_bulk (adaptive batching, reasons on request),
POST /score_arrow (the bulk request as Arrow columns: `serving.columnar`), GET /metadata, and BentoML's /livez, /readyz, /healthz and /metrics. With `PARTNER_CHURN_API_TOKEN`
set, every call but the health checks and the API description (/docs.json, the real contract: see
`serving.openapi`) needs `Authorization: Bearer <token>`. A refused request is logged in one WARNING line.
"""

from __future__ import annotations

from partner_churn.telemetry import quiet_telemetry

quiet_telemetry()  # before BentoML and MLflow are imported

import gc  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from http import HTTPStatus  # noqa: E402
from typing import Any  # noqa: E402

import bentoml  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from partner_churn.config import load_config  # noqa: E402
from partner_churn.domain import LANGS  # noqa: E402
from serving.api import BulkScore, ModelInfo, PayloadTooLarge, ScoreResponse, api_models  # noqa: E402
from serving.columnar import ARROW_STREAM, ColumnsRefused, score_arrow  # noqa: E402
from serving.guard import REFUSAL_LOGGER, ApiGuard, OneLineRefusals  # noqa: E402
from serving.history import HistoryReader  # noqa: E402
from serving.listeners import own_listener_for_this_worker  # noqa: E402
from serving.models import ModelKeeper, metadata  # noqa: E402
from serving.online import score_records  # noqa: E402

logger = logging.getLogger("partner_churn.service")
logging.getLogger(REFUSAL_LOGGER).addFilter(OneLineRefusals())

CONFIG = load_config()
API = api_models(CONFIG)
LIMITS = CONFIG.serving


async def _metadata(request: Request) -> JSONResponse:
    service = bentoml.get_current_service()
    return JSONResponse(metadata(service.keeper.current, API.schema))


async def _score_arrow(request: Request) -> Response:
    """POST /score_arrow: feature columns as an Arrow IPC stream in, the answers as one out (`serving.columnar`).
    A plain route, not a BentoML API: BentoML decodes bodies as JSON or forms only. The door (`serving.guard`)
    has refused other media types already."""
    unknown = sorted(set(request.query_params) - {"lang"})
    lang = request.query_params.get("lang", CONFIG.scoring.lang)
    if unknown or lang not in LANGS:
        why = f"unknown query parameters: {', '.join(unknown)}" if unknown else f"lang {lang!r}: one of {', '.join(LANGS)}"
        return _refused(request, HTTPStatus.BAD_REQUEST, {"error": why})
    try:
        body = await request.body()
    except PayloadTooLarge as error:  # a streamed body past serving.max_request_bytes (see serving.guard)
        return _refused(request, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": str(error)})
    service = bentoml.get_current_service()
    try:
        answer = await run_in_threadpool(
            score_arrow, body, service.keeper.current, lang=lang, explain_by_default=LIMITS.reasons_in_bulk, history=service.history
        )
    except ColumnsRefused as refusal:
        return _refused(request, refusal.status, refusal.answer())
    return Response(answer, media_type=ARROW_STREAM)


def _refused(request: Request, status: HTTPStatus, answer: dict[str, Any]) -> JSONResponse:
    logging.getLogger(REFUSAL_LOGGER).warning("refused %s %s with %d: %s", request.method, request.url.path, status, answer["error"])
    return JSONResponse(answer, status_code=status)


metadata_app = Starlette(routes=[Route("/metadata", _metadata, methods=["GET"]), Route("/score_arrow", _score_arrow, methods=["POST"])])
"""Mounted at the root, behind BentoML's own routes: GET /metadata and POST /score_arrow exactly, no
redirect to a path with a slash."""


@bentoml.service(name="partner_churn", workers=LIMITS.workers, traffic={"timeout": 120})
@bentoml.asgi_app(metadata_app, path="/")
class PartnerChurn:
    """Deactivation risk, upgrade potential, segment, action and reasons for partners, on request."""

    def __init__(self) -> None:
        self.keeper = ModelKeeper(CONFIG)
        self.keeper.start()
        self.history = HistoryReader(CONFIG.paths.output_dir)
        # The models and libraries loaded so far live as long as the worker: keep them out of the
        # collector's full passes, which otherwise took 0.26-0.31 s of a 10,000-partner request.
        gc.freeze()
        # Ready to answer: from now on this worker takes its share of new connections (serving.listeners;
        # BentoML builds the service before its worker starts accepting).
        if LIMITS.listener_per_worker and (own := own_listener_for_this_worker(sys.argv, LIMITS.workers)):
            logger.info("worker %d listens on a socket of its own at %s:%d (SO_REUSEPORT)", os.getpid(), *own)

    def __is_ready__(self) -> bool:
        return self.keeper.current is not None

    @bentoml.api(route="/score", input_spec=API.score_request, output_spec=ScoreResponse)
    def score(self, partners: list[Any], lang: str | None = None) -> ScoreResponse:
        """Score one or more partners (feature records or raw events); reasons unless `explain: false`."""
        served = self.keeper.current
        scores = score_records(partners, served, lang=lang or CONFIG.scoring.lang, explain_by_default=True, history=self.history)
        return ScoreResponse(model=ModelInfo(**served.info()), scores=scores)

    @bentoml.api(
        route="/score_bulk",
        input_spec=API.bulk_request,
        batchable=True,
        max_batch_size=LIMITS.max_partners_per_request,
        max_latency_ms=LIMITS.bulk_max_latency_ms,
    )
    def score_bulk(self, partners: list[Any]) -> list[BulkScore]:
        """Score up to `serving.max_partners_per_request` partners; concurrent requests are batched
        together. Reasons only for records with `explain: true` (or all, with `serving.reasons_in_bulk`)."""
        served = self.keeper.current
        info = ModelInfo(**served.info())
        scores = score_records(partners, served, lang=CONFIG.scoring.lang, explain_by_default=LIMITS.reasons_in_bulk, history=self.history)
        return [BulkScore(model=info, **score) for score in scores]


# bentoml.service made the class a Service; mypy keeps the type a class decorator is given (python/mypy#3135).
PartnerChurn.add_asgi_middleware(ApiGuard, config=LIMITS)  # type: ignore[attr-defined]
