"""Owner-page sessions: the token is exchanged once at login for a random session id in an HttpOnly cookie.

Sessions live in this process's memory (they end when it restarts); each carries its own CSRF token
and the id of the token it was opened with, so revoking that token ends the session too.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from attrs import frozen

from adapters.web.api_tokens import Principal

SESSION_COOKIE = "agent_learning_session"
SESSION_SECONDS = 8 * 3600
MAX_SESSIONS = 10_000  # logins beyond it end the expired sessions first, then the oldest


@frozen
class Session:
    principal: Principal
    csrf: str
    expires: float
    token_id: str | None = None


class Sessions:
    def __init__(
        self,
        lifetime: float = SESSION_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        limit: int = MAX_SESSIONS,
    ):
        self._lifetime = lifetime
        self._limit = limit
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, principal: Principal, token_id: str | None = None) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            if len(self._sessions) >= self._limit:
                self._make_room()
            self._sessions[session_id] = Session(
                principal, secrets.token_urlsafe(32), self._clock() + self._lifetime, token_id
            )
        return session_id

    def __len__(self) -> int:
        return len(self._sessions)

    def _make_room(self) -> None:
        now = self._clock()
        for session_id in [i for i, s in self._sessions.items() if s.expires < now]:
            del self._sessions[session_id]
        while len(self._sessions) >= self._limit:  # dicts keep insertion order: the oldest first
            del self._sessions[next(iter(self._sessions))]

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires < self._clock():
                del self._sessions[session_id]
                return None
        return session

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)
