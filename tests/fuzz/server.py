"""One real Vectis server per fuzz module, on loopback, driven by a synchronous HTTP client.

Hypothesis runs each example inside a plain (synchronous) test function, so the server lives in
a background thread with its own event loop: examples reuse it instead of starting one each, and
pytest-asyncio's per-test loops never meet hypothesis's example loop.
"""
from __future__ import annotations

import asyncio
import http.client
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

SLUG = "fuzz"


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class Client:
    """Keep-alive HTTP/1.1 to the server with the tenant's Host header. `source` picks the
    loopback address the request comes from (per-address throttles see different clients)."""
    port: int
    host: str
    source: str = "127.0.0.1"
    _conn: http.client.HTTPConnection | None = field(default=None, repr=False)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        hdrs = {"Host": self.host, **(headers or {})}
        for attempt in (1, 2):
            fresh = self._conn is None
            if fresh:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                                        source_address=(self.source, 0))
            try:
                self._conn.request(method, path, body=body, headers=hdrs)
                resp = self._conn.getresponse()
                reply = Reply(resp.status, resp.headers, resp.read())
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                # Only a reused keep-alive connection may have been closed by the server in
                # the meantime; a fresh connection that fails is a real failure.
                if fresh or attempt == 2:
                    raise
                continue
            if resp.will_close:
                self.close()
            return reply
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class FuzzServer:
    """The application (tests.conftest.running_server) with a small seeded tenant, an
    all-scopes PAT, a PAT of an operator limited to two customers (restricted_token,
    restricted_customers) with the real record ids of every customer (known_ids), and rate limits
    high enough that fuzzing exercises the tools themselves."""

    def __init__(self, tmp_path: Path, mongo_uri: str):
        self._tmp_path, self._mongo_uri = tmp_path, mongo_uri
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._sources = itertools.cycle(f"127.0.0.{n}" for n in range(2, 250))
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> FuzzServer:
        self._thread = threading.Thread(target=self._run, name="fuzz-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(180):
            raise RuntimeError("fuzz server did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def run(self, coro):
        """Run a coroutine on the server's loop (to read or change its state) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def client(self, *, rotate_source: bool = False) -> Client:
        source = next(self._sources) if rotate_source else "127.0.0.1"
        return Client(self.port, f"{SLUG}.localhost:{self.port}", source)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self._error = exc
            self._ready.set()

    async def _restricted_credential(self, storage, live, operators) -> None:
        """The technician limited to two of the customers (every scope), and the real ids of
        every customer's records, for fuzzing the customer boundary with ids that exist."""
        from vectis.credentials.issue import issue_pat
        from vectis.scopes import ALL_SCOPES

        db = storage.db.tenant(SLUG)
        customers = sorted(await db["customers"].distinct("_id", {}))
        self.restricted_customers = frozenset(customers[:2])
        technician = await storage.users.by_email(SLUG, next(o for o in operators if o.role == "technician").email)
        await storage.users.set_customers(SLUG, technician["_id"], self.restricted_customers)
        technician = await storage.users.by_id(SLUG, technician["_id"])
        self.restricted_token, _ = await issue_pat(storage, live.config.token_pepper, SLUG, technician,
                                                   label="fuzz: two customers", scopes=ALL_SCOPES,
                                                   expires_days=None, max_expires_days=30)
        tickets = await db["tickets"].find({}, {"uuid": 1, "number": 1}).to_list()
        self.known_ids = {
            "customer_id": customers,
            **{f"{kind}_id": sorted(await db[f"{kind}s"].distinct("_id", {}))
               for kind in ("ticket", "alert", "asset", "contact")},
            "simulated_event_id": sorted(await db["alerts"].distinct("_id", {}))[:20],
            "uuid": [t["uuid"] for t in tickets], "number": [t["number"] for t in tickets],
            "uuid_prefix": [t["uuid"][:6] for t in tickets],
        }

    async def _main(self) -> None:
        from vectis.demo.generator import demo_operators
        from vectis.demo.seed import seed_tenant
        from vectis.scopes import ALL_SCOPES
        from vectis.storage import Storage, make_client

        from ..conftest import issue_token, running_server

        prefix = "z" + secrets.token_hex(6)
        storage = Storage(make_client(self._mongo_uri), prefix)
        await storage.db.ensure_control_indexes()
        try:
            async with running_server(self._tmp_path, self._mongo_uri, prefix, storage) as live:
                operators = demo_operators(SLUG)
                await seed_tenant(storage, SLUG, "Fuzz MSP", passwords={}, customers=6,
                                  tickets_per_customer=4, now=datetime.now(UTC))
                await storage.db.control["tenants"].update_one({"_id": SLUG}, {"$set": {
                    "settings.rate_limits": {"credential_read": 10**9, "tenant_read": 10**9,
                                             "credential_write": 10**9, "tenant_write": 10**9}}})
                admin = next(o for o in operators if o.role == "admin")
                self.token = await issue_token(storage, live.config, SLUG, admin.email, ALL_SCOPES)
                await self._restricted_credential(storage, live, operators)
                self.live, self.port = live, live.port
                self.loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
                self._ready.set()
                await self._stop.wait()
        finally:
            await storage.db.drop_everything()
            await storage.close()
