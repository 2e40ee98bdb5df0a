"""What the comparison servers of bench/mcp_bench.py share: their command line, and the tools
they serve, called as the bench tenant's first operator with every scope — the same handlers and
result mapping Vectis runs, without anything around them."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vectis.auth.principal import Principal  # noqa: E402
from vectis.mcp.toolcall import jsonable  # noqa: E402
from vectis.scopes import ALL_SCOPES  # noqa: E402
from vectis.storage import Storage, make_client  # noqa: E402
from vectis.tenancy import Tenant  # noqa: E402
from vectis.tools.catalog import build_registry  # noqa: E402
from vectis.tools.pagination import CursorCodec  # noqa: E402
from vectis.tools.registry import ToolContext, ToolSpec  # noqa: E402


def arguments(*extra: str) -> argparse.Namespace:
    """--mongo-uri, --db-prefix, --tenant, --port and --tools (comma-separated), plus the named
    extra options."""
    parser = argparse.ArgumentParser()
    for name in ("--mongo-uri", "--db-prefix", "--tenant", "--tools", *extra):
        parser.add_argument(name, required=True)
    parser.add_argument("--port", type=int, required=True)
    return parser.parse_args()


@dataclass
class BenchTool:
    storage: Storage
    tenant: Tenant
    principal: Principal
    spec: ToolSpec
    cursors: CursorCodec

    async def run(self, arguments: dict) -> dict:
        ctx = ToolContext(tenant=self.tenant, principal=self.principal, storage=self.storage,
                          cursors=self.cursors, now=datetime.now(UTC), tool=self.spec.name)
        return jsonable(await self.spec.handler(ctx, arguments))


async def open_tools(args: argparse.Namespace, origin: str) -> dict[str, BenchTool]:
    storage = Storage(make_client(args.mongo_uri), args.db_prefix)
    tenant = Tenant(slug=args.tenant, name=args.tenant, origin=origin, mcp_resource=f"{origin}/mcp")
    user = (await storage.users.list(args.tenant))[0]
    principal = Principal(tenant=args.tenant, kind="pat", credential_id="bench", user_id=user["_id"],
                          email=user["email"], name=user["name"], role=user["role"], scopes=frozenset(ALL_SCOPES))
    registry, cursors = build_registry(), CursorCodec("bench" * 8)
    return {name: BenchTool(storage, tenant, principal, registry.get(name), cursors)
            for name in args.tools.split(",")}
