"""HTTP surface: Tornado handlers, one module per concern."""
