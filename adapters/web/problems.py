"""The error answers of the HTTP API, as the OpenAPI document describes them: `{"detail": "…"}` always,
plus `errors` (one per field) when the body or a parameter does not fit its schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(BaseModel):
    detail: str
    errors: list[FieldProblem] | None = None


WHY = {
    400: "the body is not JSON",
    401: "no API token, or one that is not valid (or was revoked)",
    403: "the token may not do this (an administrator's action, or another owner named)",
    404: "no such agent for this token: it does not exist, or it is not the caller's",
    409: "the agent id is already registered by another owner",
    413: "the body is larger than the limit (64 KiB)",
    422: "the request does not fit its schema, or the message breaks the contract (the reason says which)",
}


def problems(*codes: int, why: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with its meaning (`why` overrides the usual one) and its body."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        meaning = (why or {}).get(code) or WHY[code]
        documented[code] = {"description": meaning, "model": ValidationProblem if code == 422 else Problem}
        if code == 401:
            documented[code]["headers"] = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
    return documented
