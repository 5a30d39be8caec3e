"""Connecting to MongoDB, for the event store and the read models alike: fail fast, and say what to check."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pymongo
from pymongo import MongoClient
from pymongo.errors import PyMongoError

FIRST_ANSWER_SECONDS = 5.0  # at startup; later operations keep pymongo's 30 s, which rides out an election


def connected_client(url: str, **options: Any) -> MongoClient:
    """A client that has answered a ping, or ConnectionError within seconds naming the URL and what to check
    (pymongo alone waits 30 s, then fails with a traceback inside the first query)."""
    client: MongoClient = MongoClient(url, **options)
    try:
        with pymongo.timeout(FIRST_ANSWER_SECONDS):
            client.admin.command("ping")
    except PyMongoError as error:
        client.close()
        reason = str(error).split(",")[0].split(" (configured timeouts")[0][:200]
        raise ConnectionError(
            f"cannot reach MongoDB at {redacted(url)} ({reason}): check that it is running, that the host and "
            "port are right and reachable from here, and that it is a replica set (the service needs transactions)"
        ) from None
    return client


def redacted(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))
