"""Vectis server entry point: `python server.py --help`."""
import sys

from vectis.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
