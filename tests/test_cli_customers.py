"""The admin CLI's customer limits, as an operator runs it (real processes, real database):
create-user --customers, set-user-customers (--customers / --all), list-users (text and --json),
issue-token --customers (a token narrows its operator's limit, never widens it)."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from vectis.demo.seed import seed_tenant

from .test_cli import cli  # noqa: F401 - the fixture: `server.py admin …` on the test's database

EMAIL = "tess@acme.example"
UNKNOWN = "cus_" + "z" * 16


async def counts(storage) -> dict[str, int]:
    return {c: await storage.bulk.count("acme", c) for c in ("users", "pats")}


async def test_customer_limits_through_the_cli(cli, storage):  # noqa: F811
    await seed_tenant(storage, "acme", "Acme IT", passwords={}, customers=3, tickets_per_customer=0,
                      now=datetime.now(UTC))
    names = {c["_id"]: c["name"] for c in await storage.db.tenant("acme")["customers"].find({}).to_list()}
    a, b, c = sorted(names)
    password = "correct horse battery\n"

    # Refused: an id of no customer, or no id at all; nothing is created.
    before = await counts(storage)
    for customers, message in ((f"{a},{UNKNOWN}", f"--customers: no customer {UNKNOWN} in this tenant"),
                               ("acme", "--customers: not a customer id: acme"),
                               (" , ", "--customers: name at least one customer id")):
        refused = cli("create-user", "acme", EMAIL, "--role", "technician", "--password-stdin",
                      "--customers", customers, stdin=password)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    assert await counts(storage) == before

    created = cli("create-user", "acme", EMAIL, "--role", "technician", "--password-stdin",
                  "--customers", f"{b} {a}", stdin=password)
    assert created.returncode == 0, created.stderr
    user = await storage.users.by_email("acme", EMAIL)
    assert user["customers"] == [a, b]

    listed = cli("list-users", "acme", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["email"]: row for row in json.loads(listed.stdout)}
    assert rows[EMAIL]["customers"] == [a, b] and rows[EMAIL]["id"] == user["_id"]
    assert all(row["customers"] is None for email, row in rows.items() if email != EMAIL)
    text = cli("list-users", "acme").stdout
    line = next(ln for ln in text.splitlines() if ln.startswith(EMAIL))
    assert "sees only these 2 customers:" in line and f"{names[a]} ({a})" in line and f"{names[b]} ({b})" in line
    assert all(ln.endswith("sees every customer of this tenant") for ln in text.splitlines() if EMAIL not in ln)

    # A token narrows (0, the limit stored), never widens (1, nothing stored).
    narrowed = cli("issue-token", "acme", EMAIL, "--scopes", "read:customers", "--label", "one", "--customers", a)
    assert narrowed.returncode == 0, narrowed.stderr
    pats = await storage.db.tenant("acme")["pats"].find({"user_id": user["_id"]}).to_list()
    assert [p["customers"] for p in pats] == [[a]]
    before = await counts(storage)
    for customers, message in ((f"{a},{c}", f"limited to other customers; not theirs: {c}"),
                               (UNKNOWN, f"--customers: no customer {UNKNOWN} in this tenant")):
        widened = cli("issue-token", "acme", EMAIL, "--scopes", "read:customers", "--label", "wide",
                      "--customers", customers)
        assert widened.returncode == 1 and message in widened.stderr, widened.stderr
    assert await counts(storage) == before
    plain = cli("issue-token", "acme", EMAIL, "--scopes", "read:customers", "--label", "theirs")
    assert plain.returncode == 0
    assert (await storage.pats.by_hash("acme", next(
        p["token_hash"] for p in await storage.db.tenant("acme")["pats"].find({"label": "theirs"}).to_list())
    ))["customers"] is None                        # no --customers: the operator's own limit applies

    changed = cli("set-user-customers", "acme", EMAIL, "--customers", c)
    assert changed.returncode == 0, changed.stderr
    assert f"{EMAIL} in acme now sees only the customer {names[c]} ({c})" in changed.stdout
    assert (await storage.users.by_email("acme", EMAIL))["customers"] == [c]
    for args, code, message in (((EMAIL, "--customers", UNKNOWN), 1, f"no customer {UNKNOWN}"),
                                (("nobody@acme.example", "--all"), 1, "no user 'nobody@acme.example'"),
                                ((EMAIL, "--all", "--customers", a), 2, "not allowed with argument"),
                                ((EMAIL,), 2, "one of the arguments --customers --all is required")):
        refused = cli("set-user-customers", "acme", *args)
        assert refused.returncode == code and message in refused.stderr, (args, refused.stderr)
    assert (await storage.users.by_email("acme", EMAIL))["customers"] == [c]

    lifted = cli("set-user-customers", "acme", EMAIL, "--all")
    assert lifted.returncode == 0 and "now sees every customer of this tenant" in lifted.stdout
    assert (await storage.users.by_email("acme", EMAIL))["customers"] is None
    assert all(row["customers"] is None for row in json.loads(cli("list-users", "acme", "--json").stdout))
    # Unlimited now: a token may name any customers of the tenant, and only those.
    wide = cli("issue-token", "acme", EMAIL, "--scopes", "read:customers", "--label", "two", "--customers", f"{a},{c}")
    assert wide.returncode == 0, wide.stderr
    assert (await storage.db.tenant("acme")["pats"].find_one({"label": "two"}))["customers"] == [a, c]
    unknown = cli("issue-token", "acme", EMAIL, "--scopes", "read:customers", "--label", "x", "--customers", UNKNOWN)
    assert unknown.returncode == 1 and re.search(rf"--customers: no customer {UNKNOWN}", unknown.stderr), unknown.stderr
