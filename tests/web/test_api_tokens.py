"""API tokens: shown once, kept only as hashes, each for one owner or for administrators."""

from __future__ import annotations

import pytest

from adapters.web.api_tokens import Principal, TokenStore


@pytest.fixture
def tokens(tmp_path):
    store = TokenStore.in_home(tmp_path)
    yield store
    store.close()


def test_a_token_stands_for_its_owner(tokens):
    token = tokens.create(owner_id="u-7")
    assert tokens.principal(token) == Principal(owner_id="u-7", admin=False)


def test_an_admin_token_stands_for_administrators(tokens):
    assert tokens.principal(tokens.create(admin=True)) == Principal(owner_id=None, admin=True)


def test_an_unknown_token_stands_for_nobody(tokens):
    tokens.create(owner_id="u-7")
    assert tokens.principal("guessed") is None


def test_only_the_hash_is_stored(tokens, tmp_path):
    token = tokens.create(owner_id="u-7")
    assert token.encode() not in (tmp_path / "tokens.db").read_bytes()


@pytest.mark.parametrize("owner_id,admin", [(None, False), ("u-7", True), (" ", False)])
def test_a_token_is_for_one_owner_or_for_administrators(tokens, owner_id, admin):
    with pytest.raises(ValueError):
        tokens.create(owner_id=owner_id, admin=admin)


def test_owners_see_only_their_own_agents():
    owner = Principal(owner_id="u-7", admin=False)
    assert owner.may_see("u-7") and not owner.may_see("u-8") and not owner.may_see(None)
    assert Principal(owner_id=None, admin=True).may_see(None)
