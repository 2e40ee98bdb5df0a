"""Entry point for `python server.py`: flags override environment, which overrides the file."""
from __future__ import annotations

import argparse
import asyncio
import sys

from ..config import ConfigError, load_config, with_secrets

# The configuration flags: (flag, metavar or None for a switch, help). Accepted by the server and by every admin
# command, before or after the command's name.
CONFIG_FLAGS = (
    ("--config", "FILE", "TOML configuration file (or VECTIS_CONFIG)"),
    ("--host", "HOST", "listen address"),
    ("--port", "PORT", "listen port (0 picks a free one)"),
    ("--data-dir", "DIR", "embedded database, generated secrets, demo logins"),
    ("--mongo-uri", "URI", "use this MongoDB instead of the embedded database"),
    ("--no-demo", None, "do not seed the demo tenants"),
)


def add_config_flags(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """The configuration flags on `parser`. With `suppress`, a flag left out sets nothing, so on
    a subcommand it does not overwrite the same flag given before the subcommand's name."""
    group = parser.add_argument_group("configuration (flags override VECTIS_* and the file)")
    for flag, metavar, help_text in CONFIG_FLAGS:
        extra = {"default": argparse.SUPPRESS} if suppress else {}
        if metavar is None:
            group.add_argument(flag, action="store_true", help=help_text, **extra)
        else:
            group.add_argument(flag, metavar=metavar, help=help_text,
                               type=int if flag == "--port" else None, **extra)


def admin_position(argv: list[str]) -> int | None:
    """Where `admin` stands in `argv` when only configuration flags come before it, else None."""
    with_value = {flag for flag, metavar, _ in CONFIG_FLAGS if metavar}
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "admin":
            return i
        if token in with_value:
            i += 2
        elif token == "--no-demo" or token.split("=", 1)[0] in with_value and "=" in token:
            i += 1
        else:
            return None
    return None


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
    if (at := admin_position(argv)) is not None:      # flags may stand before `admin` too
        from .admin import main as admin_main
        return admin_main(argv[:at] + argv[at + 1:])
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"vectis: {exc}", file=sys.stderr)
        return 2
    from ..embedded_db import EmbeddedDatabaseError
    from ..eventloop import loop_factory
    from ..logs import setup_logging
    from ..runtime import ListenError, serve
    setup_logging(config.log_level)
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(serve(config, reload_config=lambda: config_from_args(args)))
    except (EmbeddedDatabaseError, ListenError) as exc:
        print(f"vectis: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
