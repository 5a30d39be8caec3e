"""API tokens: random bearer tokens, stored only as SHA-256 hashes, each for one owner or for administrators.

The table lives in `tokens.db` in the home folder. A token is shown once, when it is
created; what is kept cannot be turned back into it.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

from attrs import frozen

TOKEN_BYTES = 32


@frozen
class Principal:
    """Who a request acts as: one owner's agents, or every agent for an administrator."""

    owner_id: str | None
    admin: bool

    @property
    def name(self) -> str:
        return "admin" if self.admin else f"owner:{self.owner_id}"

    def may_see(self, owner_id: str | None) -> bool:
        return self.admin or (owner_id is not None and owner_id == self.owner_id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    def __init__(self, path: Path | str):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS api_tokens ("
            " token_sha256 TEXT PRIMARY KEY,"
            " owner_id TEXT,"
            " admin INTEGER NOT NULL,"
            " created_at TEXT NOT NULL,"
            " CHECK ((admin = 1) = (owner_id IS NULL)))"
        )

    @classmethod
    def in_home(cls, home: Path) -> "TokenStore":
        home.mkdir(parents=True, exist_ok=True)
        return cls(home / "tokens.db")

    def create(self, owner_id: str | None = None, admin: bool = False) -> str:
        """A new token for one owner (`owner_id`) or for administrators (`admin=True`); returns it once."""
        if admin == (owner_id is not None):
            raise ValueError("a token is either for one owner (give an owner id) or for administrators, not both")
        if owner_id is not None and not owner_id.strip():
            raise ValueError("the owner id must not be empty")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._lock:
            self._db.execute(
                "INSERT INTO api_tokens (token_sha256, owner_id, admin, created_at) VALUES (?, ?, ?, ?)",
                (_digest(token), owner_id, int(admin), datetime.now(timezone.utc).isoformat()),
            )
        return token

    def principal(self, token: str) -> Principal | None:
        """Who the token stands for, or None when it is not one of ours."""
        # Looked up by its hash: the comparison happens on digests, never on the secret itself.
        with self._lock:
            row = self._db.execute(
                "SELECT owner_id, admin FROM api_tokens WHERE token_sha256 = ?", (_digest(token),)
            ).fetchone()
        return None if row is None else Principal(owner_id=row[0], admin=bool(row[1]))

    def close(self) -> None:
        self._db.close()
