"""Sync: keep each tenant's data current from its connected sources. Connectors yield vendor
objects already mapped to canonical `Record`s; the engine matches them to Vectis ids, upserts
them without touching local fields, and records one event per real change."""
