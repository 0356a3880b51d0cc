"""The service's door: bearer token, request size, and one shape for every error answer.

An ASGI middleware in front of BentoML's app:
- with `PARTNER_CHURN_API_TOKEN` set, every path but the health checks and the API description needs
  `Authorization: Bearer <token>` (compared in constant time), else 401;
- a body above `serving.max_request_bytes` is refused with 413 before it is read to the end (by its
  Content-Length, or by counting when it is streamed);
- BentoML answers its own errors in several shapes (`[{"error": ...}]`, a pydantic title naming its
  internal classes, plain text); every error leaves here as `{"error": one line, "detail": [...]?}`;
- GET /docs.json leaves as the real contract (`serving.openapi.contract_spec`).

`OneLineRefusals` turns BentoML's log of a refused request (ERROR with a traceback) into one WARNING
line without the body: a client's mistake is not the server's fault.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from bentoml.exceptions import BentoMLException
from pydantic import ValidationError

from partner_churn.config import ServingConfig
from serving.api import PayloadTooLarge
from serving.openapi import BODY_MEDIA_TYPES, contract_spec

TOKEN_VARIABLE = "PARTNER_CHURN_API_TOKEN"
OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/docs.json", "/"})
"""Reachable without the token: health checks (for orchestrators) and the API description. Metrics
(request counts and latencies per endpoint) and BentoML's own `/schema.json` (its internal names) are
behind the token like scoring."""
JSON = "application/json"
SPEC_PATH = "/docs.json"
SHOWN_PROBLEMS = 3
"""Problems named in an error's one line; `detail` lists them all."""
OPEN_PREFIXES = ("/static_content/",)


class ApiGuard:
    """ASGI middleware; `config` gives the byte limit, the token comes from the process environment."""

    def __init__(self, app: Any, config: ServingConfig) -> None:
        self.app = app
        self.config = config
        self.max_bytes = config.max_request_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        token = os.environ.get(TOKEN_VARIABLE, "").encode()
        if token and path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES):
            if not _authorized(headers.get(b"authorization", b""), token):
                await _answer(
                    send,
                    401,
                    {"error": f"missing or wrong bearer token (Authorization: Bearer <{TOKEN_VARIABLE}>)"},
                    extra=[(b"www-authenticate", b"Bearer")],
                )
                return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _answer(send, 413, {"error": _too_big(self.max_bytes)})
            return
        if scope.get("method") == "POST" and path in BODY_MEDIA_TYPES:
            wanted = BODY_MEDIA_TYPES[path]
            media = headers.get(b"content-type", JSON.encode()).split(b";")[0].strip().lower().decode("latin-1")
            if media != wanted:  # BentoML would decode a form field by field, past the count of partners
                why = f"Content-Type {media!r} is not taken: send the body as {wanted}"
                logging.getLogger(REFUSAL_LOGGER).warning("refused POST %s with 415: %s", path, why)
                await _answer(send, 415, {"error": why})
                return
        if path == SPEC_PATH:
            await self.app(scope, receive, _rewriting(send, lambda status: status == 200 or status >= 400, self._spec))
            return
        await self.app(scope, self._counting(receive), _rewriting(send, lambda status: status >= 400, _error_body))

    def _spec(self, status: int, body: bytes) -> bytes:
        """The real contract; BentoML's own description, logged, should rewriting it ever fail."""
        if status != 200:
            return _error_body(status, body)
        try:
            return json.dumps(contract_spec(json.loads(body), self.config)).encode()
        except Exception:  # a BentoML upgrade that changed the generated shape: its spec beats none
            logging.getLogger("partner_churn.service").exception("could not state the contract in /docs.json; BentoML's description served")
            return body

    def _counting(self, receive: Any) -> Any:
        seen = 0
        limit = self.max_bytes

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(_too_big(limit))
            return message

        return counted


def _authorized(header: bytes, token: bytes) -> bool:
    scheme, _, given = header.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), token)


def _too_big(limit: int) -> str:
    return f"request body larger than {limit:,} bytes (serving.max_request_bytes)"


def _rewriting(send: Any, wanted: Callable[[int], bool], rewrite: Callable[[int, bytes], bytes]) -> Any:
    """`send` with the body of every response whose status is `wanted` replaced by `rewrite(status, body)`
    (held until complete, Content-Length set anew); everything else passes."""
    held: dict[str, Any] = {}

    async def sending(message: dict) -> None:
        if message["type"] == "http.response.start" and wanted(message["status"]):
            held["start"], held["body"] = message, b""
            return
        if "start" in held and message["type"] == "http.response.body":
            held["body"] += message.get("body", b"")
            if message.get("more_body"):
                return
            start, body = held.pop("start"), held.pop("body")
            body = rewrite(start["status"], body)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
            headers += [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return sending


def _error_body(status: int, body: bytes) -> bytes:
    """Any error answer as `{"error": ..., "detail": ...?}`: BentoML's `[{"error": ...}]` unwrapped, its
    validation answer named in the request's words, plain text wrapped."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = {"error": body.decode("utf-8", "replace").strip() or _phrase(status)}
    if isinstance(parsed, list) and len(parsed) == 1 and isinstance(parsed[0], dict):
        parsed = parsed[0]
    if not isinstance(parsed, dict) or "error" not in parsed:
        parsed = {"error": _phrase(status)}
    if isinstance(parsed.get("detail"), list):
        problems = [_problem(entry) for entry in parsed["detail"] if isinstance(entry, dict)]
        parsed = {"error": problems_line(problems), "detail": problems}
    return json.dumps(parsed).encode()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a status Python does not name (e.g. 499)
        return f"HTTP {status}"


def _problem(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One pydantic error entry as the contract shows it: where, what, which kind (no links, no input)."""
    message = str(entry.get("msg", ""))
    return {"loc": list(entry.get("loc", [])), "msg": message.removeprefix("Value error, "), "type": str(entry.get("type", ""))}


def _where(loc: list[Any]) -> str:
    """e.g. ['partners', 0, 'events', 2, 'amount'] -> 'partners[0].events[2].amount'; [] -> 'body'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def problems_line(problems: list[dict[str, Any]]) -> str:
    """e.g. '2 problems in the request: partners[0].features.clicks_7d: Input should be ...; ...'."""
    shown = "; ".join(f"{_where(p['loc'])}: {p['msg']}" for p in problems[:SHOWN_PROBLEMS])
    more = f"; and {len(problems) - SHOWN_PROBLEMS} more (see detail)" if len(problems) > SHOWN_PROBLEMS else ""
    return f"{len(problems)} problem{'' if len(problems) == 1 else 's'} in the request: {shown}{more}"


class OneLineRefusals(logging.Filter):
    """BentoML logs every refused request as ERROR with its traceback; a refusal (a validation error or
    an error below 500) becomes one WARNING line naming the problems, without the body. Faults stay ERROR."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ValidationError):
            status, why = 400, problems_line([_problem(e) for e in error.errors(include_url=False, include_input=False)])
        elif isinstance(error, BentoMLException) and error.error_code < 500:
            status, why = int(error.error_code), str(error)
        else:
            return True
        path, method = record.args if isinstance(record.args, tuple) and len(record.args) == 2 else ("?", "?")
        record.msg, record.args = "refused %s %s with %d: %s", (method, path, status, why)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        return True


REFUSAL_LOGGER = "bentoml._internal.server.http_app"
"""Where BentoML's `log_exception` writes."""


async def _answer(send: Any, status: int, payload: dict, extra: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
