"""API tokens: random bearer tokens, stored only as SHA-256 hashes, each for one owner or for administrators.

The table lives in `tokens.db` in the home folder. A token is shown once, when it is
created; what is kept cannot be turned back into it. Each token has a short public id (the
first 12 hex digits of its hash) by which `tokens list` names it and `tokens revoke` ends it;
a revoked token stays listed (with when it was revoked) and never authenticates again.
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
ID_CHARS = 12


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
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@frozen
class TokenInfo:
    """What `tokens list` shows of a token: never the secret."""

    id: str
    owner_id: str | None
    admin: bool
    created_at: str
    revoked_at: str | None


class UnknownToken(LookupError):
    pass


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
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(api_tokens)")}
        if "revoked_at" not in columns:  # tokens.db files written before revocation existed
            self._db.execute("ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT")

    @classmethod
    def in_home(cls, home: Path) -> TokenStore:
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
        """Who the token stands for, or None when it is not one of ours (or was revoked)."""
        found = self.identify(token)
        return None if found is None else found[1]

    def identify(self, token: str) -> tuple[str, Principal] | None:
        """The token's id and who it stands for, or None when it is not one of ours (or was revoked)."""
        # Looked up by its hash: the comparison happens on digests, never on the secret itself.
        digest = _digest(token)
        with self._lock:
            row = self._db.execute(
                "SELECT owner_id, admin FROM api_tokens WHERE token_sha256 = ? AND revoked_at IS NULL", (digest,)
            ).fetchone()
        return None if row is None else (digest[:ID_CHARS], Principal(owner_id=row[0], admin=bool(row[1])))

    def is_active(self, token_id: str) -> bool:
        """Whether the token with this id exists and is not revoked (sessions check it on each request)."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM api_tokens WHERE substr(token_sha256, 1, ?) = ? AND revoked_at IS NULL",
                (ID_CHARS, token_id),
            ).fetchone()
        return row is not None

    @staticmethod
    def token_id(token: str) -> str:
        return _digest(token)[:ID_CHARS]

    def list(self) -> list[TokenInfo]:
        """Every token ever created, oldest first, revoked ones included."""
        with self._lock:
            rows = self._db.execute(
                "SELECT token_sha256, owner_id, admin, created_at, revoked_at FROM api_tokens "
                "ORDER BY created_at, token_sha256"
            ).fetchall()
        return [TokenInfo(r[0][:ID_CHARS], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    def revoke(self, token_id: str) -> TokenInfo:
        """Revokes the token with this id (as `tokens list` shows it); revoking twice keeps the first time."""
        token_id = token_id.strip().lower()
        if len(token_id) != ID_CHARS or any(c not in "0123456789abcdef" for c in token_id):
            raise UnknownToken(
                f"{token_id!r} is not a token id: ids are the {ID_CHARS} hex digits `agent-learning tokens list` shows"
            )
        with self._lock:
            self._db.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE substr(token_sha256, 1, ?) = ? AND revoked_at IS NULL",
                (datetime.now(timezone.utc).isoformat(), ID_CHARS, token_id),
            )
        for info in self.list():
            if info.id == token_id:
                return info
        raise UnknownToken(f"no token with id {token_id}: see `agent-learning tokens list`")

    def close(self) -> None:
        self._db.close()
