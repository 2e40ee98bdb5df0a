"""Ready-to-paste client configurations for a freshly issued token."""
from __future__ import annotations

import json


def claude_desktop(url: str, token: str) -> str:
    """claude_desktop_config.json through mcp-remote, in the public docs' shape."""
    args = ["-y", "mcp-remote", url, "--header", "Authorization:${VECTIS_TOKEN}"]
    if url.startswith("http://"):
        args.append("--allow-http")  # mcp-remote refuses plain http otherwise (development only)
    return json.dumps({"mcpServers": {"vectis": {
        "command": "npx", "args": args, "env": {"VECTIS_TOKEN": f"Bearer {token}"}}}}, indent=2)


def cursor(url: str, token: str) -> str:
    """~/.cursor/mcp.json: Cursor speaks HTTP itself and sends the header."""
    return json.dumps({"mcpServers": {"vectis": {
        "url": url, "headers": {"Authorization": f"Bearer {token}"}}}}, indent=2)


def curl(url: str, token: str) -> str:
    body = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
    return "\n".join([
        f"curl -s {url} \\",
        f"  -H 'Authorization: Bearer {token}' \\",
        "  -H 'Content-Type: application/json' \\",
        "  -H 'MCP-Protocol-Version: 2025-11-25' \\",
        f"  -d '{body}'",
    ])


def all_snippets(url: str, token: str) -> list[tuple[str, str, str]]:
    """(element id, title, text) for each client."""
    return [
        ("snippet-claude", "Claude Desktop (claude_desktop_config.json)", claude_desktop(url, token)),
        ("snippet-cursor", "Cursor (~/.cursor/mcp.json or .cursor/mcp.json)", cursor(url, token)),
        ("snippet-curl", "curl", curl(url, token)),
    ]
