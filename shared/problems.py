"""RFC 9457 problem details for every error the HTTP services return.

Routes raise `Problem` (or FastAPI's HTTPException); validation errors and anything
unexpected are turned into `application/problem+json` as well, so a client never has
to parse an HTML page or a bare string.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db import NotFound

log = logging.getLogger(__name__)

PROBLEM_TYPES = "https://tamtam.dev/problems/"
TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 406: "Not acceptable", 409: "Conflict", 412: "Precondition failed",
    413: "Payload too large", 415: "Unsupported media type", 422: "Invalid request",
    428: "Precondition required", 429: "Too many requests", 500: "Internal error",
    503: "Service unavailable",
}


class Problem(Exception):
    def __init__(
        self, status: int, detail: str, *, kind: str | None = None,
        headers: dict[str, str] | None = None, **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or TITLES.get(status, "error").lower().replace(" ", "-")
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(
    request: Request, status: int, detail: str, kind: str | None = None,
    headers: dict[str, str] | None = None, **extensions: Any,
) -> JSONResponse:
    kind = kind or TITLES.get(status, "error").lower().replace(" ", "-")
    body = {
        "type": PROBLEM_TYPES + kind,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extensions,
    }
    return JSONResponse(body, status_code=status, headers=headers,
                        media_type="application/problem+json")


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(request, error.status, error.detail, error.kind,
                                error.headers, **error.extensions)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, error: NotFound) -> JSONResponse:
        return problem_response(request, 404, str(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else TITLES.get(error.status_code, "")
        return problem_response(request, error.status_code, detail,
                                headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"pointer": _location(item.get("loc", ())), "detail": item.get("msg", "")}
            for item in error.errors()
        ]
        summary = "; ".join(f"{e['pointer']}: {e['detail']}" for e in errors[:5])
        return problem_response(request, 422, summary or "invalid request",
                                kind="validation-error", errors=errors)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", extra={"path": request.url.path})
        return problem_response(request, 500, "An unexpected error occurred; it was logged.")
