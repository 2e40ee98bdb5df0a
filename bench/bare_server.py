"""The baseline for bench/mcp_bench.py: one Tornado handler that runs a tool's query and returns
its JSON, with no MCP framing, no authentication, no rate limit and no audit.

    python bench/bare_server.py --mongo-uri URI --db-prefix P --tenant SLUG --port N --tool NAME
"""
from __future__ import annotations

import asyncio
import json

import tornado.web
from bench_tool import BenchTool, arguments, open_tool


class BareToolHandler(tornado.web.RequestHandler):
    def initialize(self, tool: BenchTool):
        self.tool = tool

    async def post(self):
        result = await self.tool.run(json.loads(self.request.body or b"{}"))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(result, separators=(",", ":")))


async def main() -> None:
    args = arguments()
    tool = await open_tool(args, origin="http://bare")
    app = tornado.web.Application([(r"/tool", BareToolHandler, dict(tool=tool))])
    app.listen(args.port, "127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
