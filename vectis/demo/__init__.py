"""Deterministic demo data for the demo tenants (see generator.py)."""
