"""The bearer token: required on every request that writes or starts work when the server has one."""

from __future__ import annotations

import hmac

from fastapi import Request

from chipfleet.web.errors import ApiError


def check_token(request: Request) -> None:
    """Refuse (401) a request without ``Authorization: Bearer <token>`` matching the server's token; the compare
    takes the same time whatever the given token, so its bytes cannot be guessed one by one."""
    expected: str | None = request.app.state.settings.token
    if expected is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ApiError(
            401, "Unauthorized", "this server needs a bearer token for requests that write or start work; send "
            "the header 'Authorization: Bearer <token>' with the token the server was started with", None,
        )  # fmt: skip
