"""/account/mfa (TOTP enrollment, recovery codes, disabling) and token elevation on /account/mcp."""
from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from vectis.config import decode_key
from vectis.credentials import mfa
from vectis.crypto import DecryptionError, decrypt_text

from .conftest import issue_token, tenant_of
from .support.html import parse
from .support.pages import PASSWORD, create_operator, form_fields, sign_in
from .support.processes import clean_env, run_cli

EMAIL = "tech@acme.example"


@pytest.fixture
async def signed_in(live_server, http):
    user = await create_operator(live_server.storage, "acme", EMAIL, role="technician")
    assert (await sign_in(http, live_server, "acme", EMAIL))[0] == 303
    return user


async def get(http, server, path):
    async with http.get(server.url("acme", path), allow_redirects=False) as resp:
        return resp.status, resp.headers, await resp.text()


async def post(http, server, path, page, **fields):
    csrf = parse((await get(http, server, page))[2]).forms[-1].fields["_csrf"]
    async with http.post(server.url("acme", path), data={"_csrf": csrf, **fields},
                         allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location"), await resp.text()


def code_at(secret: str, offset: float = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + offset)


async def enroll(http, server) -> tuple[str, list[str]]:
    """Start and confirm enrollment; returns the secret read off the page and the recovery codes."""
    status, _, body = await get(http, server, "/account/mfa")
    assert status == 200
    secret = parse(body).by_id["mfa-secret"]
    status, _, body = await post(http, server, "/account/mfa/confirm", "/account/mfa", code=code_at(secret))
    assert status == 200, body
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", body)
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


async def test_enroll_end_to_end(live_server, http, signed_in):
    status, headers, body = await get(http, live_server, "/account/mfa")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    page = parse(body)
    secret = page.by_id["mfa-secret"]
    uri = page.by_id["mfa-uri"]
    assert pyotp.parse_uri(uri).secret == secret and "acme.example" in uri
    # The same pending secret on reload (kept encrypted in the session until confirmed).
    session_docs = await live_server.storage.db.tenant("acme")["sessions"].find({}).to_list()
    assert [bool(d.get("pending_mfa")) for d in session_docs] == [True]
    assert secret not in json.dumps(session_docs, default=str)
    assert parse((await get(http, live_server, "/account/mfa"))[2]).by_id["mfa-secret"] == secret

    secret2, codes = await enroll(http, live_server)
    assert secret2 == secret
    user = await live_server.storage.users.by_id("acme", signed_in["_id"])
    assert set(user["mfa"]) == {"secret_encrypted", "enrolled_at", "last_used_step", "recovery_hashes"}
    assert user["mfa"]["recovery_hashes"] == [mfa.recovery_hash(c) for c in codes]
    session_docs = await live_server.storage.db.tenant("acme")["sessions"].find({}).to_list()
    assert all(not d.get("pending_mfa") for d in session_docs)

    status, _, body = await get(http, live_server, "/account/mfa")
    assert "Two-factor authentication is on" in body and "10 unused recovery codes" in body
    assert secret not in body and not any(c in body for c in codes)   # shown once only
    assert "mfa-qr" not in body

    rows = await live_server.storage.audit.recent("acme")
    enrolled = [r for r in rows if r["action"] == "mfa.enrolled"]
    assert len(enrolled) == 1 and enrolled[0]["actor"]["kind"] == "operator"
    dump = json.dumps(rows, default=str)
    assert secret not in dump and not any(c in dump for c in codes)


async def test_wrong_first_code_does_not_enroll(live_server, http, signed_in):
    status, _, body = await get(http, live_server, "/account/mfa")
    secret = parse(body).by_id["mfa-secret"]
    wrong = f"{(int(code_at(secret)) + 1) % 1_000_000:06d}"
    for code in (wrong, "abcdef", "", "1234567"):
        status, _, body = await post(http, live_server, "/account/mfa/confirm", "/account/mfa", code=code)
        assert status == 400 and "not correct" in body
    assert (await live_server.storage.users.by_id("acme", signed_in["_id"]))["mfa"] is None
    actions = [r["action"] for r in await live_server.storage.audit.recent("acme")]
    assert actions.count("mfa.failed") == 4 and "mfa.enrolled" not in actions


async def test_qr_code_is_inline_svg_without_style(live_server, http, signed_in):
    status, headers, body = await get(http, live_server, "/account/mfa")
    assert "style-src 'self'" in headers["Content-Security-Policy"]
    svg = body[body.index("<svg"):body.index("</svg>") + 6]
    assert "<path" in svg and "scale(4)" in svg
    assert "style=" not in body and "<style" not in body and "<script" not in body


async def test_secret_is_stored_encrypted_and_bound_to_tenant(live_server, http, signed_in):
    secret, _ = await enroll(http, live_server)
    user = await live_server.storage.users.by_id("acme", signed_in["_id"])
    assert secret not in json.dumps(user, default=str)
    key = decode_key(live_server.config.encryption_key)
    stored = user["mfa"]["secret_encrypted"]
    assert decrypt_text(key, "acme", "totp", stored) == secret
    with pytest.raises(DecryptionError):
        decrypt_text(key, "globex", "totp", stored)
    # Copied into another tenant's user, it does not verify there.
    other = await create_operator(live_server.storage, "globex", "x@globex.example")
    await live_server.storage.users.set_mfa("globex", other["_id"], {**user["mfa"], "last_used_step": 0})
    other = await live_server.storage.users.by_id("globex", other["_id"])
    assert await mfa.verify(live_server.storage, key, "globex", other, code_at(secret, 30)) is None


async def test_recovery_codes_each_work_once(live_server, http, signed_in):
    _, codes = await enroll(http, live_server)
    storage, key = live_server.storage, decode_key(live_server.config.encryption_key)
    user = await storage.users.by_id("acme", signed_in["_id"])
    assert await mfa.verify(storage, key, "acme", user, codes[0], allow_recovery=True) == "recovery"
    assert await mfa.verify(storage, key, "acme", user, codes[0], allow_recovery=True) is None
    # Disabling with another recovery code works; a used one does not.
    status, _, _ = await post(http, live_server, "/account/mfa/disable", "/account/mfa",
                              password=PASSWORD, code=codes[0])
    assert status == 400
    status, location, _ = await post(http, live_server, "/account/mfa/disable", "/account/mfa",
                                     password=PASSWORD, code=codes[1].upper())
    assert (status, location) == (303, "/account/mfa?done=disabled")
    assert (await storage.users.by_id("acme", signed_in["_id"]))["mfa"] is None


async def test_disable_needs_password_and_code(live_server, http, signed_in):
    secret, _ = await enroll(http, live_server)
    for password, code in ((PASSWORD, "000000"), ("wrong password!", code_at(secret, 30)), (PASSWORD, "")):
        status, _, body = await post(http, live_server, "/account/mfa/disable", "/account/mfa",
                                     password=password, code=code)
        assert status == 400 and "not correct" in body
    assert (await live_server.storage.users.by_id("acme", signed_in["_id"]))["mfa"] is not None
    status, location, _ = await post(http, live_server, "/account/mfa/disable", "/account/mfa",
                                     password=PASSWORD, code=code_at(secret, 30))
    assert status == 303
    assert (await live_server.storage.users.by_id("acme", signed_in["_id"]))["mfa"] is None
    body = (await get(http, live_server, "/account/mfa?done=disabled"))[2]
    assert "Two-factor authentication is off." in body and parse(body).by_id["mfa-secret"] != secret
    actions = [r["action"] for r in await live_server.storage.audit.recent("acme")]
    assert actions.count("mfa.disabled") == 1 and actions.count("mfa.failed") == 3


async def elevate(http, server, pat_id, code, page="/account/mcp"):
    return await post(http, server, "/account/mcp/elevate", page, token_id=pat_id, code=code)


async def token_and_pat(server, user):
    token = await issue_token(server.storage, server.config, "acme", EMAIL, ["read:tickets"])
    pats = await server.storage.pats.for_user("acme", user["_id"])
    return token, pats[0]


async def test_elevation_is_visible_to_mcp_at_once(live_server, http, signed_in):
    secret, _ = await enroll(http, live_server)
    token, pat = await token_and_pat(live_server, signed_in)
    auth = live_server.services.authenticator
    assert not (await auth.authenticate(await tenant_of(live_server.services, "acme"), f"Bearer {token}")).elevated()   # cached now

    body = (await get(http, live_server, f"/account/mcp?token={pat['_id']}"))[2]
    assert f'id="token-{pat["_id"]}" class="selected"' in body and "autofocus" in body
    # The enrollment code's step is used up: replaying that code is refused.
    step = (await live_server.storage.users.by_id("acme", signed_in["_id"]))["mfa"]["last_used_step"]
    status, _, body = await elevate(http, live_server, pat["_id"], pyotp.TOTP(secret).generate_otp(step))
    assert status == 400 and "not correct" in body
    status, location, _ = await elevate(http, live_server, pat["_id"], code_at(secret, 30))
    assert status == 303 and location == f"/account/mcp?done=elevated&token={pat['_id']}"
    stored = (await live_server.storage.pats.for_user("acme", signed_in["_id"]))[0]["elevated_until"]
    stored = stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored
    assert abs(stored - (datetime.now(UTC) + timedelta(minutes=15))) < timedelta(seconds=10)
    principal = await auth.authenticate(await tenant_of(live_server.services, "acme"), f"Bearer {token}")
    assert principal.elevated()

    rows = await live_server.storage.audit.recent("acme")
    elevated = [r for r in rows if r["action"] == "token.elevated"]
    assert len(elevated) == 1 and elevated[0]["target"] == {"kind": "pat", "id": pat["_id"]}
    assert elevated[0]["actor"]["kind"] == "operator"
    assert secret not in json.dumps(rows, default=str)


async def test_replayed_code_in_same_step_is_refused(live_server, http, signed_in):
    secret, _ = await enroll(http, live_server)
    _, pat = await token_and_pat(live_server, signed_in)
    code = code_at(secret, 30)
    assert (await elevate(http, live_server, pat["_id"], code))[0] == 303
    status, _, body = await elevate(http, live_server, pat["_id"], code)
    assert status == 400 and "not correct" in body


async def test_concurrent_submissions_of_one_code_at_most_one_succeeds(live_server, http, signed_in):
    secret, _ = await enroll(http, live_server)
    _, pat = await token_and_pat(live_server, signed_in)
    form = await form_fields(http, live_server.url("acme", "/account/mcp"), "/account/mcp/elevate")
    code = code_at(secret, 30)

    async def once():
        async with http.post(live_server.url("acme", "/account/mcp/elevate"), allow_redirects=False,
                             data={"_csrf": form["_csrf"], "token_id": pat["_id"], "code": code}) as resp:
            return resp.status
    statuses = await asyncio.gather(*(once() for _ in range(8)))
    assert statuses.count(303) == 1 and statuses.count(400) == 7
    actions = [r["action"] for r in await live_server.storage.audit.recent("acme")]
    assert actions.count("token.elevated") == 1


async def test_elevation_without_mfa_is_refused(live_server, http, signed_in):
    token, pat = await token_and_pat(live_server, signed_in)
    body = (await get(http, live_server, "/account/mcp"))[2]
    assert 'href="/account/mfa"' in body and "/account/mcp/elevate" not in body
    status, _, body = await elevate(http, live_server, pat["_id"], "123456")
    assert status == 400 and "Set up two-factor authentication on /account/mfa" in body
    assert (await live_server.storage.pats.for_user("acme", signed_in["_id"]))[0]["elevated_until"] is None


async def test_cannot_elevate_someone_elses_token(live_server, http, signed_in):
    secret, _ = await enroll(http, live_server)
    other = await create_operator(live_server.storage, "acme", "boss@acme.example")
    await issue_token(live_server.storage, live_server.config, "acme", other["email"], ["read:tickets"])
    pat = (await live_server.storage.pats.for_user("acme", other["_id"]))[0]
    assert (await elevate(http, live_server, pat["_id"], code_at(secret, 30)))[0] == 404


async def test_pages_need_a_session(live_server, http):
    await create_operator(live_server.storage, "acme", EMAIL)
    status, headers, _ = await get(http, live_server, "/account/mfa")
    assert status == 303 and headers["Location"].startswith("/signin?next=")


async def test_admin_reset_mfa(live_server, http, signed_in, tmp_path, mongo_uri, db_prefix):
    await enroll(http, live_server)
    env = clean_env(VECTIS_MONGO_URI=mongo_uri, VECTIS_DB_PREFIX=db_prefix,
                    VECTIS_DATA_DIR=str(tmp_path / "cli-data"))
    result = run_cli("admin", "reset-mfa", "acme", EMAIL, env=env)
    assert result.returncode == 0, result.stderr
    assert "reset two-factor authentication of tech@acme.example" in result.stdout
    assert (await live_server.storage.users.by_id("acme", signed_in["_id"]))["mfa"] is None
    again = run_cli("admin", "reset-mfa", "acme", EMAIL, env=env)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    missing = run_cli("admin", "reset-mfa", "acme", "nobody@acme.example", env=env)
    assert missing.returncode == 1 and "no user" in missing.stderr


async def test_code_attempts_are_throttled(live_server, http, signed_in):
    secret, _ = await enroll(http, live_server)
    _, pat = await token_and_pat(live_server, signed_in)
    good = code_at(secret, 30)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    statuses = [(await elevate(http, live_server, pat["_id"], wrong))[0] for _ in range(mfa.MAX_ATTEMPTS)]
    assert statuses == [400] * mfa.MAX_ATTEMPTS
    status, _, body = await elevate(http, live_server, pat["_id"], good)   # even the right code
    assert status == 429 and "Too many attempts" in body
    assert (await live_server.storage.pats.for_user("acme", signed_in["_id"]))[0]["elevated_until"] is None
    statuses = [r["status"] for r in await live_server.storage.audit.recent("acme") if r["action"] == "mfa.failed"]
    assert statuses.count("throttled") == 1
