"""POST /oauth/token under attack (anchors.md §2.4 cases 7–15): PKCE, single-use codes under
concurrency, bindings to client/redirect/resource, refresh rotation with its grace window and
family revocation. Every answer is checked to be JSON with `Cache-Control: no-store`."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest

from .flow import (
    REDIRECT,
    code_hash,
    exchange,
    get_code,
    json_answer,
    mcp_status,
    plaintext_anywhere,
    refresh,
    register,
    signed_in,
    tenant_db,
    token_request,
    tokens,
)

PAST = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
async def browser(live_server):
    async with signed_in(live_server) as b:
        yield b


@pytest.fixture
async def client(http, live_server, browser):
    return await register(http, live_server)


async def assert_dead(http, server, client, *, access=(), refresh_tokens=()):
    for token in access:
        status, headers = await mcp_status(http, server, "acme", token)
        assert status == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"]
    for token in refresh_tokens:
        answer = await refresh(http, server, client, token)
        assert (answer.status, answer.error) == (400, "invalid_grant"), answer


async def test_wrong_code_verifier_is_invalid_grant(live_server, http, browser, client):
    """Case 7 (the no-store and JSON checks are in flow.json_answer, for every answer)."""
    code, verifier = await get_code(live_server, browser, client)
    for wrong in (verifier[:-1] + ("A" if verifier[-1] != "A" else "B"), "x" * 43):
        answer = await exchange(http, live_server, client, code, wrong)
        assert (answer.status, answer.error) == (400, "invalid_grant"), answer
    # A failed attempt does not consume the code (docs/oauth.md): the right verifier still works.
    assert (await exchange(http, live_server, client, code, verifier)).status == 200


async def test_pkce_cannot_be_downgraded(live_server, http, browser, client):
    """Case 8. No code is ever issued without a challenge (case 3 refuses the request), so the
    remaining downgrade is a redemption without a verifier, or a malformed one."""
    code, verifier = await get_code(live_server, browser, client)
    for bad in (None, "", "short", "a" * 129, verifier[:40] + "+/="):
        answer = await exchange(http, live_server, client, code, bad)
        assert (answer.status, answer.error) == (400, "invalid_request"), (bad, answer)
    assert (await exchange(http, live_server, client, code, verifier)).status == 200


async def test_a_second_redemption_revokes_what_the_first_produced(live_server, http, browser, client):
    """Case 9: the access token stops working at once (the revoking process forgets its cache)
    and the refresh token is dead."""
    code, verifier = await get_code(live_server, browser, client)
    first = await exchange(http, live_server, client, code, verifier)
    assert first.status == 200, first
    assert first.body["token_type"] == "Bearer" and first.body["expires_in"] <= 3600
    access, refresh_token = first.body["access_token"], first.body["refresh_token"]
    assert (await mcp_status(http, live_server, "acme", access))[0] == 200   # now cached
    second = await exchange(http, live_server, client, code, verifier)
    assert (second.status, second.error) == (400, "invalid_grant"), second
    await assert_dead(http, live_server, client, access=[access], refresh_tokens=[refresh_token])


async def test_a_replay_without_the_verifier_revokes_nothing(live_server, http, browser, client):
    """Someone who only saw a used code (not its PKCE verifier) cannot end the connection."""
    code, verifier = await get_code(live_server, browser, client)
    first = await exchange(http, live_server, client, code, verifier)
    assert first.status == 200, first
    guess = await exchange(http, live_server, client, code, "y" * 43)
    assert (guess.status, guess.error) == (400, "invalid_grant")
    assert (await mcp_status(http, live_server, "acme", first.body["access_token"]))[0] == 200


async def test_concurrent_redemptions_issue_exactly_once(live_server, http, browser, client):
    """Case 10: 20 redemptions of one code at once: one 200, 19 invalid_grant, one grant.
    The other 19 are replays of a used code, so the grant they raced is revoked (as in case 9),
    whichever of them the server happened to see first."""
    code, verifier = await get_code(live_server, browser, client)
    answers = await asyncio.gather(*(exchange(http, live_server, client, code, verifier)
                                     for _ in range(20)))
    assert Counter((a.status, a.error) for a in answers) == {(200, None): 1, (400, "invalid_grant"): 19}
    assert await tenant_db(live_server, "acme")["oauth_grants"].count_documents({}) == 1
    winner = next(a for a in answers if a.status == 200)
    await assert_dead(http, live_server, client, access=[winner.body["access_token"]],
                      refresh_tokens=[winner.body["refresh_token"]])


async def test_another_clients_code_looks_like_no_code_and_survives(live_server, http, browser, client):
    """Case 11: client B learns nothing about A's code, and cannot burn it."""
    other = await register(http, live_server, client_name="Client B")
    code, verifier = await get_code(live_server, browser, client)
    stolen = await exchange(http, live_server, other, code, verifier)
    made_up = await exchange(http, live_server, other, "x" * 43, verifier)
    assert (stolen.status, stolen.error) == (400, "invalid_grant")
    assert stolen.body == made_up.body
    assert (await exchange(http, live_server, client, code, verifier)).status == 200


async def test_a_changed_redirect_uri_is_invalid_grant(live_server, http, browser, client):
    """Case 11: the redirect URI at /token must be the one sent to /authorize, byte for byte
    (the loopback port allowance applies at /authorize only)."""
    code, verifier = await get_code(live_server, browser, client)
    for uri in ("http://127.0.0.1:1234/callback", REDIRECT + "/", "", "https://evil.example/cb"):
        answer = await exchange(http, live_server, client, code, verifier, redirect_uri=uri)
        assert (answer.status, answer.error) == (400, "invalid_grant"), uri
    assert (await exchange(http, live_server, client, code, verifier)).status == 200


async def test_an_expired_code_is_invalid_grant(live_server, http, browser, client):
    """Case 11. Codes live 60 s; rather than wait, the test moves this code's `expires_at` into
    the past directly in the tenant database (the only setup done behind the server's back)."""
    code, verifier = await get_code(live_server, browser, client)
    result = await tenant_db(live_server, "acme")["oauth_codes"].update_one(
        {"_id": code_hash(live_server, code)}, {"$set": {"expires_at": PAST}})
    assert result.modified_count == 1
    answer = await exchange(http, live_server, client, code, verifier)
    assert (answer.status, answer.error) == (400, "invalid_grant"), answer
    assert await tenant_db(live_server, "acme")["oauth_grants"].count_documents({}) == 0


async def test_a_different_resource_at_token_time_is_invalid_target(live_server, http, browser, client):
    """Case 12, for codes and refresh tokens; the refused request consumes nothing."""
    code, verifier = await get_code(live_server, browser, client)
    acme = live_server.config.mcp_resource("acme")
    wrong = [live_server.config.mcp_resource("northwind"), acme + "#x", "/api/mcp", acme + "-other"]
    for resource in wrong:
        answer = await exchange(http, live_server, client, code, verifier, resource=resource)
        assert (answer.status, answer.error) == (400, "invalid_target"), resource
    granted = await exchange(http, live_server, client, code, verifier)
    assert granted.status == 200
    for resource in wrong:
        answer = await refresh(http, live_server, client, granted.body["refresh_token"], resource=resource)
        assert (answer.status, answer.error) == (400, "invalid_target"), resource
    assert (await refresh(http, live_server, client, granted.body["refresh_token"])).status == 200


async def test_refresh_rotation_grace_then_family_revocation(live_server, http, browser, client):
    """Case 13, with the grace window pinned: right after a rotation the just-rotated R1 returns
    the SAME R2 (and a new access token), so a client that lost the response can retry; once R2
    has been used, R1 is reuse: invalid_grant, and every token of the grant dies."""
    first = await tokens(http, live_server, browser, client)
    r1, a1 = first["refresh_token"], first["access_token"]
    rotated = await refresh(http, live_server, client, r1)
    assert rotated.status == 200
    r2, a2 = rotated.body["refresh_token"], rotated.body["access_token"]
    assert r2 != r1 and a2 != a1
    retry = await refresh(http, live_server, client, r1)
    assert retry.status == 200
    assert retry.body["refresh_token"] == r2 and retry.body["access_token"] not in (a1, a2)
    again = await refresh(http, live_server, client, r2)
    assert again.status == 200
    r3, a3 = again.body["refresh_token"], again.body["access_token"]
    for token in (a1, a2, retry.body["access_token"], a3):
        assert (await mcp_status(http, live_server, "acme", token))[0] == 200
    reuse = await refresh(http, live_server, client, r1)
    assert (reuse.status, reuse.error) == (400, "invalid_grant")
    await assert_dead(http, live_server, client, access=[a1, a2, a3, retry.body["access_token"]],
                      refresh_tokens=[r3, r2, r1])


async def test_a_rotated_refresh_token_after_the_grace_window_revokes_the_grant(
        live_server, http, browser, client):
    """Case 13 after the 30 s window, which the test ends by moving `grace_until` into the past
    in the tenant database rather than by waiting."""
    first = await tokens(http, live_server, browser, client)
    rotated = await refresh(http, live_server, client, first["refresh_token"])
    assert rotated.status == 200
    await tenant_db(live_server, "acme")["oauth_grants"].update_many(
        {}, {"$set": {"refresh.grace_until": PAST}})
    late = await refresh(http, live_server, client, first["refresh_token"])
    assert (late.status, late.error) == (400, "invalid_grant")
    await assert_dead(http, live_server, client, access=[rotated.body["access_token"]],
                      refresh_tokens=[rotated.body["refresh_token"]])


async def test_concurrent_refreshes_leave_one_live_refresh_token(live_server, http, browser, client):
    """Case 14: ten refreshes with R1 at once. Never a 500; with the grace window every one of
    them gets the same R2; afterwards R2 works and R1 no longer does."""
    first = await tokens(http, live_server, browser, client)
    r1 = first["refresh_token"]
    answers = await asyncio.gather(*(refresh(http, live_server, client, r1) for _ in range(10)))
    assert all(a.status < 500 for a in answers)
    assert {(a.status, a.error) for a in answers} <= {(200, None), (400, "invalid_grant")}
    assert all(a.status == 200 for a in answers), [a.body for a in answers]
    issued = {a.body["refresh_token"] for a in answers}
    assert len(issued) == 1 and r1 not in issued
    (r2,) = issued
    assert (await refresh(http, live_server, client, r2)).status == 200
    stale = await refresh(http, live_server, client, r1)
    assert (stale.status, stale.error) == (400, "invalid_grant")


async def test_refresh_scope_may_only_narrow(live_server, http, browser, client):
    """Case 15 (invalid_scope); a refused refresh does not rotate anything."""
    first = await tokens(http, live_server, browser, client, scope="read:customers read:tickets")
    assert first["scope"] == "read:customers read:tickets"
    r1 = first["refresh_token"]
    for scope in ("read:customers write:tickets", "read:billing", "", "read:customers read:tickets admin"):
        answer = await refresh(http, live_server, client, r1, scope=scope)
        assert (answer.status, answer.error) == (400, "invalid_scope"), scope
    narrowed = await refresh(http, live_server, client, r1, scope="read:tickets")
    assert narrowed.status == 200 and narrowed.body["scope"] == "read:tickets"


async def test_dead_or_foreign_refresh_tokens_are_invalid_grant(live_server, http, browser, client):
    """Case 15: another client's token, an unknown one and an expired one are all invalid_grant
    (so clients re-authorize); the foreign attempt does not harm the owner's grant."""
    other = await register(http, live_server, client_name="Client B")
    first = await tokens(http, live_server, browser, client)
    r1 = first["refresh_token"]
    for who, token in ((other, r1), (client, "x" * 43), (client, "vct_pat_" + "x" * 43)):
        answer = await refresh(http, live_server, who, token)
        assert (answer.status, answer.error) == (400, "invalid_grant"), token
    rotated = await refresh(http, live_server, client, r1)
    assert rotated.status == 200
    await tenant_db(live_server, "acme")["oauth_grants"].update_many({}, {"$set": {"expires_at": PAST}})
    expired = await refresh(http, live_server, client, rotated.body["refresh_token"])
    assert (expired.status, expired.error) == (400, "invalid_grant")


async def test_codes_and_tokens_are_not_stored_in_plaintext(live_server, http, browser, client):
    code, verifier = await get_code(live_server, browser, client)
    first = await exchange(http, live_server, client, code, verifier)
    second = await refresh(http, live_server, client, first.body["refresh_token"])
    assert second.status == 200
    secrets_seen = [code, verifier, first.body["refresh_token"], first.body["access_token"],
                    second.body["refresh_token"], second.body["access_token"]]
    for value in secrets_seen:
        assert await plaintext_anywhere(live_server, "acme", value) == []


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_confidential_client_authentication(live_server, http, browser, method):
    """A wrong or missing secret is 401 invalid_client and does not consume the code; the
    secret is only accepted the way the client registered."""
    client = await register(http, live_server, token_endpoint_auth_method=method)
    assert client.secret
    code, verifier = await get_code(live_server, browser, client)
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": REDIRECT}
    wrong = await token_request(http, live_server, "acme", form, client=client, secret="vct_cs_wrong")
    assert (wrong.status, wrong.error) == (401, "invalid_client")
    if method == "client_secret_basic":
        assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    bare = await token_request(http, live_server, "acme", {**form, "client_id": client.client_id})
    assert (bare.status, bare.error) == (401, "invalid_client")
    other_way = "client_secret_post" if method == "client_secret_basic" else "client_secret_basic"
    switched = await token_request(http, live_server, "acme", form, client=type(client)(
        **{**client.__dict__, "auth_method": other_way}))
    assert (switched.status, switched.error) == (401, "invalid_client")
    good = await token_request(http, live_server, "acme", form, client=client)
    assert good.status == 200, good
    renewed = await refresh(http, live_server, client, good.body["refresh_token"])
    assert renewed.status == 200


async def test_malformed_token_requests_are_json_errors(live_server, http, client):
    url = live_server.url("acme", "/oauth/token")
    cases = [
        ({"grant_type": "password", "client_id": client.client_id}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "client_id": client.client_id}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code", "client_id": "vcl_nobody"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code", "client_id": client.client_id}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "client_id": client.client_id}, 400, "invalid_request"),
    ]
    for form, status, error in cases:
        answer = await token_request(http, live_server, "acme", form)
        assert (answer.status, answer.error) == (status, error), (form, answer)
    async with http.post(url, data="grant_type=refresh_token&grant_type=authorization_code",
                         headers={"Content-Type": "application/x-www-form-urlencoded"}) as resp:
        assert (await json_answer(resp)).error == "invalid_request"
    async with http.post(url, json={"grant_type": "authorization_code"}) as resp:
        assert (await json_answer(resp)).error == "invalid_request"
    async with http.post(url, data={"grant_type": "x", "pad": "a" * 70_000}) as resp:
        assert resp.status == 413 and (await json_answer(resp)).error == "invalid_request"
    async with http.get(url) as resp:
        assert resp.status == 405 and (await json_answer(resp)).body
