"""Fixtures shared by the batch loop's tests."""

from __future__ import annotations

import pytest

from adapters.bootstrap import bootstrap
from tests.service.test_mongodb_backend import mongo_config  # noqa: F401 - the fixture mongo_system builds on


@pytest.fixture
def mongo_system(mongo_config):  # noqa: F811
    """A `System` with events and read models on the MongoDB-protocol test server."""
    built = bootstrap(mongo_config)
    yield built
    built.close()
