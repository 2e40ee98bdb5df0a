"""Helpers for operator page tests: an operator with a real password, signing in, forms."""
from __future__ import annotations

from vectis.credentials.passwords import hash_password

from .html import parse

PASSWORD = "correct horse battery"


async def create_operator(storage, slug: str, email: str, role: str = "admin") -> dict:
    """A tenant (if missing) and an operator whose password is PASSWORD (one Argon2 hash)."""
    if await storage.tenants.get(slug) is None:
        await storage.tenants.create(slug, slug.title())
    return await storage.users.create(slug, email, email.split("@")[0], role, hash_password(PASSWORD))


async def form_fields(http, url: str, action: str) -> dict[str, str]:
    """GET a page and return the fields of the form that posts to `action`."""
    async with http.get(url, allow_redirects=False) as resp:
        assert resp.status == 200, resp.status
        return dict(parse(await resp.text()).form(action).fields)


async def sign_in(http, server, slug: str, email: str, password: str = PASSWORD, next_path: str | None = None):
    """Sign in through the form; returns (status, Location header, body)."""
    fields = await form_fields(http, server.url(slug, "/signin"), "/signin")
    fields.update(email=email, password=password)
    if next_path is not None:
        fields["next"] = next_path
    async with http.post(server.url(slug, "/signin"), data=fields, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location"), await resp.text()
