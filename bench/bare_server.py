"""The baseline for bench/mcp_bench.py: one Tornado handler that runs a tool's query and returns
its JSON, with no MCP framing, no authentication, no rate limit and no audit.

    python bench/bare_server.py --mongo-uri URI --db-prefix P --tenant SLUG --port N --tool NAME
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import tornado.web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vectis.auth.principal import Principal  # noqa: E402
from vectis.mcp.toolcall import jsonable  # noqa: E402
from vectis.scopes import ALL_SCOPES  # noqa: E402
from vectis.storage import Storage, make_client  # noqa: E402
from vectis.tenancy import Tenant  # noqa: E402
from vectis.tools.catalog import build_registry  # noqa: E402
from vectis.tools.pagination import CursorCodec  # noqa: E402
from vectis.tools.registry import ToolContext  # noqa: E402


class BareToolHandler(tornado.web.RequestHandler):
    def initialize(self, storage, tenant, spec, principal, cursors):
        self.storage, self.tenant, self.spec, self.principal, self.cursors = storage, tenant, spec, principal, cursors

    async def post(self):
        arguments = json.loads(self.request.body or b"{}")
        ctx = ToolContext(tenant=self.tenant, principal=self.principal, storage=self.storage,
                          cursors=self.cursors, now=datetime.now(UTC), tool=self.spec.name)
        result = jsonable(await self.spec.handler(ctx, arguments))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(result, separators=(",", ":")))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mongo-uri", required=True)
    parser.add_argument("--db-prefix", required=True)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tool", required=True)
    args = parser.parse_args()
    storage = Storage(make_client(args.mongo_uri), args.db_prefix)
    tenant = Tenant(slug=args.tenant, name=args.tenant, origin="http://bare", mcp_resource="http://bare/api/mcp")
    user = (await storage.users.list(args.tenant))[0]
    principal = Principal(tenant=args.tenant, kind="pat", credential_id="bench", user_id=user["_id"],
                          email=user["email"], name=user["name"], role=user["role"], scopes=frozenset(ALL_SCOPES))
    spec = build_registry().get(args.tool)
    app = tornado.web.Application([(r"/tool", BareToolHandler, dict(
        storage=storage, tenant=tenant, spec=spec, principal=principal, cursors=CursorCodec("bench" * 8)))])
    app.listen(args.port, "127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
