"""The baseline for bench/mcp_bench.py: one Tornado handler that runs a tool's query and returns
its JSON, with no MCP framing, no authentication, no rate limit and no audit.

    python bench/bare_server.py --mongo-uri URI --db-prefix P --tenant SLUG --port N --tools A,B

POST /tool/{name} with the tool's arguments as the body.
"""
from __future__ import annotations

import asyncio
import json

import tornado.web
from bench_tool import BenchTool, arguments, open_tools


class BareToolHandler(tornado.web.RequestHandler):
    def initialize(self, tools: dict[str, BenchTool]):
        self.tools = tools

    async def post(self, name: str):
        tool = self.tools.get(name)
        if tool is None:
            raise tornado.web.HTTPError(404)
        result = await tool.run(json.loads(self.request.body or b"{}"))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(result, separators=(",", ":")))


async def main() -> None:
    args = arguments()
    tools = await open_tools(args, origin="http://bare")
    app = tornado.web.Application([(r"/tool/([a-z_]+)", BareToolHandler, dict(tools=tools))])
    app.listen(args.port, "127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
