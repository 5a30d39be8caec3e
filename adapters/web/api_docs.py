"""`/docs`: the API described on one page that needs no network (Swagger UI would load its code from a CDN),
and the OpenAPI document completed with the message schema the parser enforces."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from adapters.messages.schema import message_schema
from domain.settings import LearningSettings

router = APIRouter(include_in_schema=False)


def with_message_schema(app: FastAPI, settings: LearningSettings) -> dict[str, Any]:
    """The app's OpenAPI document, built once, with `FeedbackMessage` from these settings."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        document.setdefault("components", {}).setdefault("schemas", {})["FeedbackMessage"] = message_schema(settings)
        app.openapi_schema = document
    return app.openapi_schema


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    document = request.app.openapi()
    rows = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answers = ", ".join(
                f"<abbr title='{html.escape(r.get('description', ''), quote=True)}'>{code}</abbr>"
                for code, r in sorted(operation.get("responses", {}).items())
            )
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(operation.get('summary', ''))}</td><td>{answers}</td></tr>"
            )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(document["info"]["title"])} API</title>
<style>body{{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;
vertical-align:top}}code{{font-size:90%}}</style></head><body>
<h1>{html.escape(document["info"]["title"])} {html.escape(document["info"]["version"])}: HTTP API</h1>
<p>{html.escape(document["info"].get("description", ""))} Send <code>Authorization: Bearer TOKEN</code>
(a token from <code>agent-learning tokens create</code>). Every error is <code>{{"detail": "…"}}</code>.
The whole description, schemas included, is <a href="/openapi.json">/openapi.json</a> (OpenAPI
{html.escape(document["openapi"])}); load it into any OpenAPI viewer.</p>
<table><thead><tr><th>method</th><th>path</th><th>what</th><th>answers</th></tr></thead><tbody>
{"".join(rows)}
</tbody></table></body></html>"""
    return HTMLResponse(page)
