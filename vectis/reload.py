"""Reloading the configuration of a running server (SIGHUP, `systemctl reload`).

Only settings marked `live` in config.SETTINGS are applied; anything else that changed is named
in the log as needing a restart and keeps its running value, so the running configuration is
always one that was valid as a whole. A new configuration that does not validate changes nothing.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

from .config import Config, ConfigError
from .logs import set_level
from .settings import SETTINGS

log = logging.getLogger("vectis.reload")
SECRET = frozenset(s.name for s in SETTINGS if s.secret)   # named in the log, never shown


def compare(running: Config, new: Config) -> tuple[dict[str, object], list[str]]:
    """(live settings that changed with their new values, names of the others that changed)."""
    live: dict[str, object] = {}
    restart: list[str] = []
    for s in SETTINGS:
        if getattr(running, s.name) == getattr(new, s.name):
            continue
        if s.live:
            live[s.name] = getattr(new, s.name)
        else:
            restart.append(s.name)
    return live, restart


def apply_live(services, changes: dict[str, object]) -> None:
    if "log_level" in changes:
        set_level(str(changes["log_level"]))
    # Handlers read these through services.config on every request.
    services.config = dataclasses.replace(services.config, **changes)


async def reload(services, load: Callable[[], Config]) -> bool:
    """Load (off the event loop: files), compare, apply. False when the new configuration was
    refused."""
    try:
        new = await asyncio.to_thread(load)
    except (ConfigError, OSError) as exc:
        problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
        log.error("reload refused, running configuration kept: %s", "; ".join(problems))
        return False
    except Exception as exc:   # a reload must never stop a running server
        log.error("reload refused, running configuration kept: %s: %s", type(exc).__name__,
                  str(exc)[:300])
        return False
    live, restart = compare(services.config, new)
    if live:
        apply_live(services, live)
        log.info("reload applied: %s", ", ".join(k if k in SECRET else f"{k}={v!r}"
                                                   for k, v in live.items()))
    if restart:
        # Names only: some of these are secrets.
        log.warning("reload: %s changed but only take effect after a restart (running values kept)",
                    ", ".join(restart))
    if not live and not restart:
        log.info("reload: configuration unchanged")
    return True
