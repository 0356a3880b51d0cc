"""The service's door: bearer token, request size, and one shape for every error answer.

An ASGI middleware in front of BentoML's app:
- with `PARTNER_CHURN_API_TOKEN` set, every path but the health checks and the API description needs
  `Authorization: Bearer <token>` (compared in constant time), else 401;
- a body above `serving.max_request_bytes` is refused with 413 before it is read to the end (by its
  Content-Length, or by counting when it is streamed);
- BentoML answers its own errors as `[{"error": ...}]` for some statuses; every error leaves here as
  `{"error": ..., "detail": ...?}`.
"""

from __future__ import annotations

import hmac
import json
import os
from http import HTTPStatus
from typing import Any

from bentoml.exceptions import BentoMLException

from partner_churn.config import ServingConfig

TOKEN_VARIABLE = "PARTNER_CHURN_API_TOKEN"
OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics", "/docs.json", "/", "/schema.json"})
"""Reachable without the token: health checks (for orchestrators), metrics and the API description."""
OPEN_PREFIXES = ("/static_content/",)


class PayloadTooLarge(BentoMLException):
    """More partners (or bytes) in one request than the service takes: HTTP 413."""

    error_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class ApiGuard:
    """ASGI middleware; `config` gives the byte limit, the token comes from the process environment."""

    def __init__(self, app: Any, config: ServingConfig) -> None:
        self.app = app
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
                await _answer(send, 401, {"error": f"missing or wrong bearer token (Authorization: Bearer <{TOKEN_VARIABLE}>)"},
                              extra=[(b"www-authenticate", b"Bearer")])
                return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _answer(send, 413, {"error": _too_big(self.max_bytes)})
            return
        await self.app(scope, self._counting(receive), _one_error_shape(send))

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


def _one_error_shape(send: Any) -> Any:
    """Rewrite BentoML's `[{"error": ...}]` error bodies to `{"error": ...}`; pass everything else."""
    held: dict[str, Any] = {}

    async def sending(message: dict) -> None:
        if message["type"] == "http.response.start" and message["status"] >= 400:
            held["start"], held["body"] = message, b""
            return
        if "start" in held and message["type"] == "http.response.body":
            held["body"] += message.get("body", b"")
            if message.get("more_body"):
                return
            start, body = held.pop("start"), held.pop("body")
            body = _unwrapped(body)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return sending


def _unwrapped(body: bytes) -> bytes:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    if isinstance(parsed, list) and len(parsed) == 1 and isinstance(parsed[0], dict) and "error" in parsed[0]:
        return json.dumps(parsed[0]).encode()
    return body


async def _answer(send: Any, status: int, payload: dict, extra: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
