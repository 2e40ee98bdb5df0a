"""The per-tenant OAuth 2.1 authorization server: metadata, registration (DCR and Client ID
Metadata Documents), authorize + consent, token, revoke; and the grants the MCP endpoint checks."""
