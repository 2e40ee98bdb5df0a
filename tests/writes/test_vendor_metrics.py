"""Vendor calls in /metrics: every attempt counted by vendor and outcome, retries included."""
from __future__ import annotations

import pytest

from ..support.rpc import structured
from ..test_metrics import samples, scrape, value
from .test_write_safety import create_args


@pytest.fixture
async def cw(make_vendor_tenant):
    return await make_vendor_tenant("cwtenant", ("connectwise", "ninjaone", "datto_bcdr"))


async def test_vendor_attempts_and_failures_are_counted(cw, http):
    """The PSA refuses the first create with a 429 (unprocessed, so retried): both attempts
    are counted, each with its outcome and its duration."""
    cw.sim("psa").faults.add(kind="status", status=429, retry_after=0, method="POST",
                             path=r"/service/tickets$")
    await structured(http, cw.url, cw.token, "create_ticket", await create_args(cw))
    parsed = samples((await scrape(http, cw.server))[1])
    calls = {dict(labels)["outcome"]: v for (name, labels), v in parsed.items()
             if name == "vectis_vendor_calls_total" and ("vendor", "connectwise") in labels}
    assert calls.get("429") == 1, calls
    assert sum(v for outcome, v in calls.items() if outcome.startswith("2")) >= 1, calls
    assert value(parsed, "vectis_vendor_call_duration_seconds_count",
                 vendor="connectwise") == sum(calls.values())
    assert value(parsed, "vectis_tool_calls_total", tool="create_ticket", status="success") == 1
