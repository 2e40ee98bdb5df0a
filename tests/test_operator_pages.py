"""Operator pages: sign-in, session cookie, throttling, CSRF, tenant isolation, headers."""
from __future__ import annotations

import socket

import pytest

from vectis.app import make_services
from vectis.runtime import start_http
from vectis.web.pages import throttle

from .conftest import make_config
from .support.html import parse
from .support.http import client_session
from .support.pages import PASSWORD, create_operator, form_fields, sign_in

EMAIL = "ops@acme.example"


@pytest.fixture
async def operator(live_server):
    return await create_operator(live_server.storage, "acme", EMAIL)


def set_cookie_headers(resp) -> list[str]:
    return resp.headers.getall("Set-Cookie", [])


async def signed_in(http, server, slug="acme") -> bool:
    async with http.get(server.url(slug, "/account/mcp"), allow_redirects=False) as resp:
        return resp.status == 200


async def test_signin_sets_session_cookie_with_flags(live_server, http, operator):
    fields = await form_fields(http, live_server.url("acme", "/signin"), "/signin")
    fields.update(email=EMAIL, password=PASSWORD)
    async with http.post(live_server.url("acme", "/signin"), data=fields, allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"] == "/account/mcp"
        cookie = next(c for c in set_cookie_headers(resp) if c.startswith("vectis_session="))
    flags = [p.strip().lower() for p in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags and not any(f.startswith("domain=") for f in flags)
    assert await signed_in(http, live_server)
    rows = await live_server.storage.audit.recent("acme")
    assert [(r["action"], r["status"], r["actor"]["email"]) for r in rows] == [("signin", "success", EMAIL)]


async def test_https_uses_host_prefixed_secure_cookie(tmp_path, mongo_uri, db_prefix, storage):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = make_config(tmp_path, mongo_uri, db_prefix, port=port, public_scheme="https")
    services = make_services(config, storage)
    await services.start()
    server, _ = start_http(services, "127.0.0.1", port)
    try:
        await create_operator(storage, "acme", EMAIL)
        async with client_session() as http:
            url = f"http://acme.localhost:{port}/signin"
            async with http.get(url) as resp:
                body = await resp.text()
                presession = [c for c in set_cookie_headers(resp) if c.startswith("__Host-vectis_presession=")]
            assert presession and "secure" in presession[0].lower()
            fields = dict(parse(body).form("/signin").fields, email=EMAIL, password=PASSWORD)
            # aiohttp does not send Secure cookies over http, so hand the pre-session cookie over.
            cookie = presession[0].split(";")[0]
            async with http.post(url, data=fields, headers={"Cookie": cookie}, allow_redirects=False) as resp:
                assert resp.status == 303
                session = next(c for c in set_cookie_headers(resp) if c.startswith("__Host-vectis_session="))
    finally:
        server.stop()
        await server.close_all_connections()
        await services.stop()
    flags = [p.strip().lower() for p in session.split(";")]
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(flags)


async def test_failure_message_is_generic(live_server, http, operator):
    wrong_password = await sign_in(http, live_server, "acme", EMAIL, "wrong password 123")
    unknown_email = await sign_in(http, live_server, "acme", "nobody@acme.example", PASSWORD)
    assert wrong_password[0] == unknown_email[0] == 401
    errors = [parse(body).by_id["signin-error"] for _, _, body in (wrong_password, unknown_email)]
    assert errors[0] == errors[1] == "The e-mail address or password is not correct."
    assert wrong_password[2].replace(EMAIL, "X") == unknown_email[2].replace("nobody@acme.example", "X")
    assert not await signed_in(http, live_server)
    statuses = sorted(r["status"] for r in await live_server.storage.audit.recent("acme"))
    assert statuses == ["failure", "failure"]


async def test_throttling_per_account(live_server, http, operator):
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert (await sign_in(http, live_server, "acme", EMAIL, "wrong password 123"))[0] == 401
    fields = await form_fields(http, live_server.url("acme", "/signin"), "/signin")
    fields.update(email=EMAIL, password=PASSWORD)  # the right password, too late
    async with http.post(live_server.url("acme", "/signin"), data=fields, allow_redirects=False) as resp:
        assert resp.status == 429
        retry_after = int(resp.headers["Retry-After"])
        body = await resp.text()
    assert 1 <= retry_after <= throttle.WINDOW_SECONDS
    assert f"Too many attempts, try again in {retry_after} s." in body
    assert not await signed_in(http, live_server)
    # Another account from the same address is still allowed (the address limit is higher).
    await create_operator(live_server.storage, "acme", "other@acme.example")
    assert (await sign_in(http, live_server, "acme", "other@acme.example"))[0] == 303


async def test_throttling_per_address(live_server, http, operator):
    for i in range(throttle.ADDRESS_LIMIT):
        status, _, _ = await sign_in(http, live_server, "acme", f"guess{i}@acme.example", "wrong password 1")
        assert status == 401
    status, _, body = await sign_in(http, live_server, "acme", EMAIL)
    assert status == 429 and "Too many attempts" in body


async def test_post_without_or_with_wrong_csrf_token_is_refused(live_server, http, operator):
    url = live_server.url("acme", "/signin")
    await form_fields(http, url, "/signin")   # has a pre-session cookie, but sends no token
    for extra in ({}, {"_csrf": "0" * 64}):
        async with http.post(url, data={"email": EMAIL, "password": PASSWORD, **extra},
                             allow_redirects=False) as resp:
            assert resp.status == 403
    assert not await signed_in(http, live_server)
    assert await live_server.storage.audit.recent("acme") == []

    assert (await sign_in(http, live_server, "acme", EMAIL))[0] == 303
    for extra in ({}, {"_csrf": "0" * 64}):
        async with http.post(live_server.url("acme", "/account/mcp/tokens"), allow_redirects=False,
                             data={"label": "x", "scope": "read:tickets", **extra}) as resp:
            assert resp.status == 403
        async with http.post(live_server.url("acme", "/signout"), data=extra, allow_redirects=False) as resp:
            assert resp.status == 403
    assert await live_server.storage.pats.for_user("acme", operator["_id"]) == []
    assert await signed_in(http, live_server)


async def test_session_of_one_tenant_is_not_valid_at_another(live_server, http, operator):
    await create_operator(live_server.storage, "northwind", EMAIL)   # same e-mail, other tenant
    assert (await sign_in(http, live_server, "acme", EMAIL))[0] == 303
    cookie = next(c for c in http.cookie_jar if c.key == "vectis_session")
    async with client_session() as other:
        headers = {"Cookie": f"vectis_session={cookie.value}"}
        async with other.get(live_server.url("northwind", "/account/mcp"), headers=headers,
                             allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.headers["Location"].startswith("/signin?next=")
        async with other.get(live_server.url("acme", "/account/mcp"), headers=headers,
                             allow_redirects=False) as resp:
            assert resp.status == 200   # the same cookie is fine where it belongs


async def test_signout_ends_the_session(live_server, http, operator):
    assert (await sign_in(http, live_server, "acme", EMAIL))[0] == 303
    cookie = next(c for c in http.cookie_jar if c.key == "vectis_session").value
    fields = await form_fields(http, live_server.url("acme", "/account/mcp"), "/signout")
    async with http.post(live_server.url("acme", "/signout"), data=fields, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/signin"
    async with client_session() as replay:
        async with replay.get(live_server.url("acme", "/account/mcp"), allow_redirects=False,
                              headers={"Cookie": f"vectis_session={cookie}"}) as resp:
            assert resp.status == 303


async def test_disabled_user_and_password_change_end_sessions(live_server, http, operator):
    users = live_server.storage.db.tenant("acme")["users"]
    assert (await sign_in(http, live_server, "acme", EMAIL))[0] == 303
    await users.update_one({"_id": operator["_id"]}, {"$set": {"disabled": True}})
    assert not await signed_in(http, live_server)
    await users.update_one({"_id": operator["_id"]}, {"$set": {"disabled": False}})
    assert (await sign_in(http, live_server, "acme", EMAIL))[0] == 303
    await users.update_one({"_id": operator["_id"]}, {"$set": {"password_hash": operator["password_hash"] + "x"}})
    assert not await signed_in(http, live_server)
    assert await live_server.storage.db.tenant("acme")["sessions"].count_documents({}) == 0


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil", "/\\/evil.example",
                                    "javascript:alert(1)", "evil.example", "/%0d%0aLocation:x"])
async def test_next_cannot_leave_the_site(live_server, http, operator, target):
    status, location, _ = await sign_in(http, live_server, "acme", EMAIL, next_path=target)
    assert status == 303
    assert location == ("/%0d%0aLocation:x" if target.startswith("/%") else "/account/mcp")


async def test_next_keeps_a_local_path(live_server, http, operator):
    async with http.get(live_server.url("acme", "/account/mcp?x=1"), allow_redirects=False) as resp:
        assert resp.status == 303
        login = resp.headers["Location"]
    assert login == "/signin?next=%2Faccount%2Fmcp%3Fx%3D1"
    fields = await form_fields(http, live_server.url("acme", login), "/signin")
    assert fields["next"] == "/account/mcp?x=1"


async def test_every_page_carries_security_headers(live_server, http, operator):
    expected = {
        "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                                   "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    }
    responses = []
    async with http.get(live_server.url("acme", "/signin")) as resp:
        responses.append(resp)
        body = await resp.text()
    assert "<script" not in body and "style=" not in body
    async with http.get(live_server.url("acme", "/account/mcp"), allow_redirects=False) as resp:
        responses.append(resp)
    assert (await sign_in(http, live_server, "acme", EMAIL))[0] == 303
    async with http.get(live_server.url("acme", "/account/mcp")) as resp:
        responses.append(resp)
    async with http.post(live_server.url("acme", "/signout"), allow_redirects=False) as resp:
        responses.append(resp)   # 403 error page
        assert resp.status == 403
    for resp in responses:
        for name, value in expected.items():
            assert resp.headers.get(name) == value, (resp.url, name)
    async with http.get(live_server.url("acme", "/static/pages.css")) as resp:
        assert resp.status == 200 and resp.headers["X-Content-Type-Options"] == "nosniff"
    async with http.get(live_server.url("nowhere", "/static/pages.css")) as resp:
        assert resp.status == 404 and (await resp.json())["error"] == "not_found"
