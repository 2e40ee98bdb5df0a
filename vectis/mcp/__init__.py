"""The MCP endpoint: JSON-RPC over Streamable HTTP, both protocol eras on one URL."""
