"""MCP tools: one declarative registry; one module per domain declares its tools."""
