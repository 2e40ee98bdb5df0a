"""Logging set-up: one line of JSON per record, so logs are machine-readable from day one."""
from __future__ import annotations

import json
import logging
import sys
import time

# The structured fields a record may carry (as `extra=`); anything else stays out of the line.
LOGGED_FIELDS = ("request_id", "tenant", "credential_id", "tool", "status", "duration_ms", "method",
                 "path", "vendor", "outcome")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
        }
        for key in LOGGED_FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


# Libraries whose debug output carries data: PyMongo logs every command and its reply (user
# documents with their password hashes, tokens' digests). They stay at WARNING whatever our level.
QUIET_LIBRARIES = ("pymongo",)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().handlers[:] = [handler]
    set_level(level)


def set_level(level: str) -> None:
    """Our level, at start-up and on a reload; never the libraries' in QUIET_LIBRARIES."""
    logging.getLogger().setLevel(level.upper())
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
