"""How the API reports bad input: a 4xx with ``{"error": type, "message": what and how to fix, "field": ...}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from chipfleet.exceptions import ChipfleetError, NotFoundError


class ApiError(Exception):
    """A request the API answers with ``status`` and a JSON body naming the error, the message and the field."""

    def __init__(self, status: int, error: str, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.field = field
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "field": self.field, **self.details}


def _field_of(loc: tuple[Any, ...]) -> str | None:
    """The request field a pydantic error location names: ("body", "batch") → "batch"."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def _validation_message(err: dict[str, Any]) -> str:
    field = _field_of(tuple(err.get("loc", ())))
    what = str(err.get("msg", "invalid value")).replace("Value error, ", "")
    if err.get("type") == "missing":
        return f"{field} is required; give it in the JSON body (see /openapi.json)"
    if err.get("type") == "extra_forbidden":
        return f"{field} is not an option of this command; the options are in /openapi.json"
    got = err.get("input")
    shown = f", got {got!r}" if not isinstance(got, dict | list) and got is not None else ""
    return f"{field}: {what}{shown}" if field else f"{what}{shown}"


def install(app: FastAPI) -> None:
    """Answer ApiError and request validation errors in the one error shape."""

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body(), status_code=exc.status)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        first = errors[0] if errors else {}
        message = "; ".join(_validation_message(e) for e in errors[:5]) or "the request is not valid JSON"
        body = {"error": "ValidationError", "message": message, "field": _field_of(tuple(first.get("loc", ())))}
        return JSONResponse(body, status_code=422)

    async def library(_: Request, exc: Exception) -> JSONResponse:
        # a chipfleet error outside a command (a sweep spec read to check it, a store refusing a limit): bad input
        assert isinstance(exc, ChipfleetError)
        status = 404 if isinstance(exc, NotFoundError) else 400
        return JSONResponse({"error": type(exc).__name__, "message": str(exc), "field": exc.field}, status_code=status)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(ChipfleetError, library)
    app.add_exception_handler(RequestValidationError, invalid)
