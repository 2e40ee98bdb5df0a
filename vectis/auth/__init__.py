"""Who is calling: bearer credentials resolved to a Principal."""
