"""Response headers that keep browsers from misreading, framing, caching or leaking the pages.

Every response: `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin` (no referrer
leaves the site; `no-referrer` would also make browsers send `Origin: null` on the site's own forms).
Owner pages (everything but the API, its docs, /healthz and /metrics): a Content-Security-Policy
that allows no script at all and only this site's forms, and `X-Frame-Options: DENY`.
Any response to a request that carries credentials (a bearer token or the session cookie), and
every owner page: `Cache-Control: no-store`, so a shared cache or the back button never shows one
owner's data to someone else.
"""

from __future__ import annotations

from adapters.web.sessions import SESSION_COOKIE

PAGE_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
NOT_PAGES = ("/api/", "/docs", "/redoc", "/openapi.json", "/healthz", "/metrics")


class SecurityHeaders:
    """ASGI middleware adding the headers above."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        page = not path.startswith(NOT_PAGES)
        headers = dict(scope.get("headers") or ())
        credentials = b"authorization" in headers or SESSION_COOKIE.encode() in headers.get(b"cookie", b"")
        added = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
        if page:
            added += [(b"content-security-policy", PAGE_POLICY.encode()), (b"x-frame-options", b"DENY")]
        if page or credentials:
            added.append((b"cache-control", b"no-store"))

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"cache-control" or not (page or credentials)
                ]
                message = {**message, "headers": kept + added}
            await send(message)

        await self.app(scope, receive, send_with_headers)
