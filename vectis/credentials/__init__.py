"""Credential formats and hashing: operator passwords and personal access tokens."""
