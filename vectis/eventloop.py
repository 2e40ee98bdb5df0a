"""The event loop the server runs on: uvloop when it is installed, else asyncio's own.

Tornado and PyMongo's async API run on any asyncio loop; uvloop's is faster at what dominates a
light tool call (sockets, callbacks, timers): see the stack-overhead section of
docs/benchmarks.md. It is a pinned requirement, so the fallback is for a platform without a
wheel (uvloop has none for Windows), not a mode to choose.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """For asyncio.Runner: uvloop's loop, or None (asyncio's default)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
