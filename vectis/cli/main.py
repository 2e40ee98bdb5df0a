"""Entry point for `python server.py`: flags override environment, which overrides the file."""
from __future__ import annotations

import argparse
import asyncio
import sys

from ..config import ConfigError, load_config, with_secrets


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("configuration (flags override VECTIS_* and the file)")
    group.add_argument("--config", metavar="FILE", help="TOML configuration file (or VECTIS_CONFIG)")
    group.add_argument("--host", help="listen address")
    group.add_argument("--port", type=int, help="listen port (0 picks a free one)")
    group.add_argument("--data-dir", metavar="DIR", help="embedded database, generated secrets, demo logins")
    group.add_argument("--mongo-uri", metavar="URI", help="use this MongoDB instead of the embedded database")
    group.add_argument("--no-demo", action="store_true", help="do not seed the demo tenants")


def config_from_args(args: argparse.Namespace):
    overrides = {"host": args.host, "port": args.port, "data_dir": args.data_dir,
                 "mongo_uri": args.mongo_uri, "demo": "off" if args.no_demo else None}
    return with_secrets(load_config(args.config, overrides=overrides))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python server.py",
        description="Run the Vectis MCP server. With no database configured it starts the embedded "
                    "database and seeds the demo tenants. `python server.py admin --help` lists the "
                    "administration commands.")
    add_config_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["admin"]:
        from .admin import main as admin_main
        return admin_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"vectis: {exc}", file=sys.stderr)
        return 2
    from ..embedded_db import EmbeddedDatabaseError
    from ..logs import setup_logging
    from ..runtime import ListenError, serve
    setup_logging(config.log_level)
    try:
        asyncio.run(serve(config, reload_config=lambda: config_from_args(args)))
    except (EmbeddedDatabaseError, ListenError) as exc:
        print(f"vectis: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
