"""How Atera writes things on the wire, for its simulator: its enums, times, ProblemDetails
error bodies, page envelopes and parameter parsing."""
from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

PRIORITIES = ("Low", "Medium", "High", "Critical")
TYPES = ("Incident", "Problem", "Request", "Change")


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          409: "Conflict", 429: "Too Many Requests"}


def problem_body(status: int, text: str, **extra) -> str:
    return json.dumps({"type": f"https://tools.ietf.org/html/rfc9110#section-15.5.{status - 399}",
                       "title": TITLES.get(status, "Error"), "status": status, "detail": text,
                       **extra})


def message(status: int, text: str, **extra) -> web.Response:
    """Atera's error answer: ProblemDetails (the newer spec, 400/404/409)."""
    return web.Response(text=problem_body(status, text, **extra), status=status,
                        content_type="application/problem+json")


def invalid(field: str, text: str) -> web.Response:
    # ASP.NET Core's ValidationProblemDetails: the field errors under `errors`.
    return message(400, "One or more validation errors occurred.", errors={field: [text]})


def page(request: web.Request, rows: list, limit: int) -> web.Response:
    q = request.query
    page = max(1, int_param(q.get("page", "1")))
    size = min(max(1, int_param(q.get("itemsInPage", "20"))), limit)
    total = len(rows)
    pages = math.ceil(total / size)

    def link(number: int) -> str:
        return str(request.url.update_query(page=number, itemsInPage=size))

    return web.json_response({"items": rows[(page - 1) * size: page * size], "totalItemCount": total,
                              "page": page, "itemsInPage": size, "totalPages": pages,
                              "prevLink": link(page - 1) if page > 1 else "",
                              "nextLink": link(page + 1) if page < pages else ""})


def enum_problem(body: dict) -> web.Response | None:
    if "TicketPriority" in body and body["TicketPriority"] not in PRIORITIES:
        return invalid("ticket.TicketPriority", f"Error converting value \"{body['TicketPriority']}\".")
    if "TicketType" in body and body["TicketType"] not in TYPES:
        return invalid("ticket.TicketType", f"Error converting value \"{body['TicketType']}\".")
    return None


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=problem_body(400, "The request body is not a JSON object."),
                                 content_type="application/problem+json")
    return body


def utc_param(text: str) -> datetime:
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def int_param(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text=problem_body(400, f"The value '{value}' is not valid."),
                                 content_type="application/problem+json") from None
