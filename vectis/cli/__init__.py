"""Command line: `python server.py` runs the server, `python server.py admin …` administers it."""
