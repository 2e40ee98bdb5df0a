"""The demo's vendor tools change on their own, and a sync brings the change in as events."""
from __future__ import annotations

from vectis.simulators.activity import DemoActivity


async def test_an_activity_round_shows_up_after_the_next_sync(make_sync_env):
    env = await make_sync_env({"demoact": ("connectwise", "ninjaone", "datto_bcdr")})
    for kind in ("psa", "rmm"):
        await env.sync("demoact", kind)                  # baseline
    activity = DemoActivity(env.storage, env.connections, env.fleet, seed=7)
    happened = await activity.step()
    assert any("ticket" in h for h in happened) and any("alert" in h for h in happened), happened
    await env.sync("demoact", "psa")
    await env.sync("demoact", "rmm")
    types = {e["type"] for e in await env.db("demoact")["events"].find({}).to_list()}
    assert {"ticket.created", "alert.resolved"} <= types
