"""Writes to the MSP's vendors: the one dispatch path shared by the MCP write tools and the
rules engine (resolve → dry run or idempotent dispatch → reflect locally → audit)."""
