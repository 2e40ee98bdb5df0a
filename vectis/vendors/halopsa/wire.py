"""How HaloPSA writes things on the wire, for its simulator: dates (and the 1900 'no date'),
list envelopes and paging, saved-object answers, plain-text errors and query parameters."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

NO_DATE = "1900-01-01T00:00:00"      # how Halo writes an unset date


def now_text() -> str:
    """Halo writes UTC dates with `Z` and 7 fraction digits (e.g. 2022-09-30T08:23:56.4214387Z)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def unset(value: Any) -> bool:
    return not value or str(value).startswith(("1900-", "0001-", "1899-"))


def saved_answer(records: list[dict]) -> web.Response:
    """Halo answers a one-item POST with the saved object (several: an array, unverified)."""
    return web.json_response(records[0] if len(records) == 1 else records)


def paged(request: web.Request, key: str, rows: list, max_size: int | None = None) -> web.Response:
    q = request.query
    out: dict[str, Any] = {"record_count": len(rows)}
    if truthy(q.get("pageinate")):
        size = max(1, int_param(q.get("page_size", "50"), "page_size"))
        size = min(size, max_size) if max_size else size
        page = max(1, int_param(q.get("page_no", "1"), "page_no"))
        rows = rows[(page - 1) * size: page * size]
        out.update(page_no=page, page_size=size)
    elif q.get("count"):
        rows = rows[: max(0, int_param(q["count"], "count"))]
    out[key] = rows
    return web.json_response(out)


def by_client(request: web.Request, rows: list[dict]) -> list[dict]:
    if not request.query.get("client_id"):
        return list(rows)
    wanted = int_param(request.query["client_id"], "client_id")
    return [r for r in rows if r.get("client_id") == wanted]


async def json_array(request: web.Request) -> list:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="The request body is not valid JSON") from None
    if not isinstance(body, list) or not body:
        raise web.HTTPBadRequest(text="Expected a non-empty array")
    return body


def bad_request(message: str) -> web.Response:
    return web.Response(status=400, text=message)


def truthy(value: str | None) -> bool:
    return str(value or "").lower() in ("true", "1", "yes")


def int_param(value: Any, name: str) -> int:
    number = int_or_none(value)
    if number is None:
        raise web.HTTPBadRequest(text=f"Invalid value for {name}")
    return number


def when_param(value: Any, name: str) -> datetime:
    """A Halo date (UTC, usually without an offset) as a naive UTC datetime."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise web.HTTPBadRequest(text=f"Invalid value for {name}") from None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
