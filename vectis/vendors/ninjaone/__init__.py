"""NinjaOne: the connector (writes, `connector`), the reader (sync, `reader`), the loopback
simulator (`simulator`, seeded by `seed`) and the contract of the calls Vectis makes
(`contract.json`, from the vendor's published API)."""
