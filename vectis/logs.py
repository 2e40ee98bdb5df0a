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


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
