"""NinjaOne connector against its simulator: OAuth client credentials with a cached token, the two
alert resets (each takes the alert off NinjaOne's list), the read helpers, and the retry rules on
real HTTP."""
from __future__ import annotations

import pytest

from vectis.vendors.base import AlertDraft, CloseDraft, NoteDraft, TicketDraft
from vectis.vendors.errors import VendorError, VerbUnsupported
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.ninjaone import connector as ninjaone
from vectis.vendors.ninjaone.connector import NinjaOneConnector
from vectis.vendors.ninjaone.simulator import NinjaOneSimulator
from vectis.vendors.registry import connector_class
from vectis.vendors.simkit import Fault

POLICY = RetryPolicy(attempts=3, backoff=(0.01, 0.02, 0.05), timeout=1.0)
UID = "5d0f2c1e-8a4b-4c1e-9d3f-2b7a6e1c0a11"
OTHER = "7b1e9f00-3c2d-4e5f-8a9b-0c1d2e3f4a5b"
RESET = "POST /v2/alert/{uid}/reset"
TOKEN = "/ws/oauth/token"


def alert(uid: str, device_id: int = 101) -> dict:
    return {"uid": uid, "deviceId": device_id, "message": "Disk C: below 10% free",
            "subject": "Disk space", "createTime": 1_700_000_000.0, "updateTime": 1_700_000_000.0,
            "sourceType": "CONDITION_AGENT_DISK_FREE_SPACE",
            "sourceConfigUid": "0c9a3f4e-1d2b-4c5a-8e7f-6a5b4c3d2e1f",
            "sourceName": "Disk free", "severity": "MAJOR", "priority": "HIGH", "data": {}}


def job_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


@pytest.fixture(autouse=True)
def fresh_token_cache():
    ninjaone._TOKENS.clear()
    yield
    ninjaone._TOKENS.clear()


@pytest.fixture
async def sim():
    simulator = NinjaOneSimulator()
    simulator.seed(
        organizations=[{"id": i, "name": f"Org {i}", "nodeApprovalMode": "AUTOMATIC"}
                       for i in range(1, 6)],
        devices=[{"id": 100 + i, "organizationId": 1, "nodeClass": "WINDOWS_SERVER",
                  "displayName": f"SRV-{i:02d}", "offline": False} for i in range(1, 8)],
        alerts=[alert(UID), alert(OTHER, 102)],
        backup_jobs=[{"jobId": job_id(i), "jobStatus": "COMPLETED" if i % 3 else "FAILED",
                      "planType": "IMAGE", "deviceId": 101, "organizationId": 1,
                      "jobStartTime": 1_700_000_000 + i} for i in range(7)],
    )
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def http():
    client = VendorHttp(policy=POLICY)
    yield client
    await client.close()


def make(sim: NinjaOneSimulator, http: VendorHttp, **override) -> NinjaOneConnector:
    return NinjaOneConnector(sim.base_url, {**sim.credentials, **override}, http)


def test_registry_and_matrix():
    assert connector_class("ninjaone") is NinjaOneConnector
    assert NinjaOneConnector.kind == "rmm"
    assert NinjaOneConnector.verbs == {"acknowledge_alert", "resolve_alert"}
    assert NinjaOneConnector.missing == {}


async def test_acknowledge_resets_alert_with_note_and_it_leaves_the_list(sim, http):
    conn = make(sim, http)
    draft = AlertDraft(UID, note="Looking at it - tech A")
    plan = await conn.plan("acknowledge_alert", draft)
    assert [c.view() for c in plan] == [
        {"method": "POST", "path": f"/v2/alert/{UID}/reset", "body": {"note": "Looking at it - tech A"}}]
    result = await conn.perform("acknowledge_alert", draft)
    assert result.vendor_status == 204
    assert result.extra == {"alert_ref": UID, "effect": "reset", "listed": False}
    # What was sent is exactly the plan.
    assert sim.requests == [{"method": c.method, "path": c.path, "body": c.body} for c in plan]
    assert sim.resets[UID] == [{"note": "Looking at it - tech A"}]
    # A reset condition is no longer triggered: NinjaOne stops listing it (there is no status).
    listed = await conn.list_alerts()
    assert [a["uid"] for a in listed] == [OTHER] and "status" not in listed[0]
    # The token request carried the documented grant and the scopes Vectis needs, once.
    assert sim.token_requests == [{"grant_type": "client_credentials",
                                   "client_id": sim.credentials["client_id"],
                                   "scope": "monitoring management"}]


async def test_acknowledge_without_note_sends_empty_activity_data(sim, http):
    conn = make(sim, http)
    plan = await conn.plan("acknowledge_alert", AlertDraft(UID))
    assert plan[0].body == {}
    await conn.perform("acknowledge_alert", AlertDraft(UID))
    assert sim.requests[-1]["body"] == {}


async def test_acknowledge_of_an_alert_no_longer_listed_is_already_reset(sim, http):
    conn = make(sim, http)
    await conn.perform("resolve_alert", AlertDraft(UID))              # reset by DELETE first
    again = await conn.perform("acknowledge_alert", AlertDraft(UID, note="late"))
    assert again.vendor_status == 404
    assert again.extra == {"alert_ref": UID, "effect": "reset", "listed": False, "already": True}
    assert UID not in sim.resets and UID in sim.cleared


async def test_resolve_deletes_alert_and_repeat_counts_as_already_resolved(sim, http):
    conn = make(sim, http)
    plan = await conn.plan("resolve_alert", AlertDraft(UID))
    assert [c.view() for c in plan] == [{"method": "DELETE", "path": f"/v2/alert/{UID}"}]
    first = await conn.perform("resolve_alert", AlertDraft(UID))
    assert first.vendor_status == 204 and "already" not in first.extra
    assert first.extra["effect"] == "reset" and first.extra["listed"] is False
    assert sim.requests == [{"method": "DELETE", "path": f"/v2/alert/{UID}", "body": None}]
    assert [a["uid"] for a in await conn.list_alerts()] == [OTHER]
    again = await conn.perform("resolve_alert", AlertDraft(UID))
    assert again.vendor_status == 404 and again.extra["already"] is True
    assert sim.count("DELETE", "/v2/alert/{uid}") == 2


async def test_alert_ids_stay_one_path_segment(sim, http):
    plan = await make(sim, http).plan("resolve_alert", AlertDraft("../devices?x=1"))
    assert plan[0].path == "/v2/alert/..%2Fdevices%3Fx%3D1"


async def test_ticket_verbs_are_not_offered(sim, http):
    conn = make(sim, http)
    for verb, draft in (("create_ticket", TicketDraft("1", "s", "d")),
                        ("add_note", NoteDraft("1", "b", internal=True)),
                        ("close_ticket", CloseDraft("1"))):
        assert not conn.supports(verb)
        with pytest.raises(VerbUnsupported) as err:
            await conn.plan(verb, draft)
        assert err.value.verb == verb and err.value.vendor == "ninjaone"
    assert sim.requests == [] and sim.token_requests == []


async def test_recover_is_none_for_alert_verbs(sim, http):
    from datetime import UTC, datetime
    conn = make(sim, http)
    since = datetime.now(UTC)
    assert await conn.recover("acknowledge_alert", AlertDraft(UID), since) is None
    assert await conn.recover("resolve_alert", AlertDraft(UID), since) is None


async def test_wrong_secret_is_a_401_and_touches_nothing(sim, http):
    conn = make(sim, http, client_secret="wrong")
    with pytest.raises(VendorError) as err:
        await conn.perform("resolve_alert", AlertDraft(UID))
    assert err.value.status == 401 and err.value.retry_safe is True
    assert "wrong" not in str(err.value)
    assert sim.count("POST", TOKEN) == 1
    assert sim.count("DELETE", "/v2/alert/{uid}") == 0 and UID in sim.alerts


async def test_wrong_secret_never_borrows_a_cached_token(sim, http):
    await make(sim, http).list_alerts()
    with pytest.raises(VendorError) as err:
        await make(sim, http, client_secret="wrong").list_alerts()
    assert err.value.status == 401


async def test_token_is_cached_and_renewed_once_after_revocation(sim, http):
    conn = make(sim, http)
    await conn.perform("acknowledge_alert", AlertDraft(UID))
    await make(sim, http).list_alerts()          # another connector instance shares the cache
    assert sim.count("POST", TOKEN) == 1
    sim.invalidate_tokens()
    await conn.perform("acknowledge_alert", AlertDraft(OTHER, note="x"))
    assert sim.count("POST", TOKEN) == 2
    assert sim.count(*RESET.split(" ")) == 2     # the refused attempt never reached the handler
    assert sim.resets[OTHER] == [{"note": "x"}]


async def test_token_near_expiry_is_renewed_before_use(http):
    sim = NinjaOneSimulator(token_ttl=30)        # shorter than the renewal margin
    sim.seed(alerts=[alert(UID)])
    await sim.start()
    try:
        conn = make(sim, http)
        await conn.list_alerts()
        await conn.list_alerts()
        assert sim.count("POST", TOKEN) == 2
    finally:
        await sim.stop()


async def test_fresh_token_refused_is_not_retried(http):
    sim = NinjaOneSimulator()
    sim.token_valid_for = 0                      # every token is already dead on arrival
    await sim.start()
    try:
        with pytest.raises(VendorError) as err:
            await make(sim, http).list_alerts()
        assert err.value.status == 401
        assert sim.count("POST", TOKEN) == 1
    finally:
        await sim.stop()


async def test_429_with_retry_after_then_success(sim, http):
    sim.faults.add(Fault(kind="status", status=429, retry_after=0, method="POST", path=r"/reset$"))
    result = await make(sim, http).perform("acknowledge_alert", AlertDraft(UID))
    assert result.vendor_status == 204
    assert sim.count(*RESET.split(" ")) == 1
    assert http.calls[("ninjaone", "429")] == 1 and sim.faults.active == []


async def test_500_on_acknowledge_is_retried_because_reset_is_idempotent(sim, http):
    sim.faults.add(Fault(kind="status", status=500, method="POST", path=r"/reset$"))
    result = await make(sim, http).perform("acknowledge_alert", AlertDraft(UID, note="n"))
    assert result.vendor_status == 204
    assert http.calls[("ninjaone", "500")] == 1
    assert sim.resets[UID] == [{"note": "n"}]


async def test_500_on_resolve_is_retried_then_succeeds(sim, http):
    sim.faults.add(Fault(kind="status", status=503, method="DELETE"))
    result = await make(sim, http).perform("resolve_alert", AlertDraft(UID))
    assert result.vendor_status == 204 and "already" not in result.extra
    assert sim.count("DELETE", "/v2/alert/{uid}") == 1 and UID not in sim.alerts


async def test_persistent_500_on_acknowledge_ends_retry_safe(sim, http):
    sim.faults.add(Fault(kind="status", status=500, method="POST", path=r"/reset$", count=3))
    with pytest.raises(VendorError) as err:
        await make(sim, http).perform("acknowledge_alert", AlertDraft(UID))
    assert err.value.status == 500 and err.value.retry_safe is True
    assert http.calls[("ninjaone", "500")] == 3


async def test_lost_answer_to_resolve_retries_into_already_resolved(sim, http):
    sim.faults.add(Fault(kind="drop_after", method="DELETE"))
    result = await make(sim, http).perform("resolve_alert", AlertDraft(UID))
    assert result.extra["already"] is True
    assert sim.count("DELETE", "/v2/alert/{uid}") == 2 and UID not in sim.alerts


async def test_lost_answer_to_acknowledge_retries_into_already_reset(sim, http):
    # The first reset happened and its answer was lost; the retry finds the alert gone, which is
    # what the caller wanted, not a failure.
    sim.faults.add(Fault(kind="drop_after", method="POST", path=r"/reset$"))
    result = await make(sim, http).perform("acknowledge_alert", AlertDraft(UID, note="n"))
    assert result.vendor_status == 404 and result.extra["already"] is True
    assert sim.resets[UID] == [{"note": "n"}]
    assert sim.count(*RESET.split(" ")) == 2
    assert [a["uid"] for a in sim.state()["alerts"]] == [OTHER]


async def test_a_condition_that_still_holds_is_raised_again_as_a_new_alert(sim, http):
    conn = make(sim, http)
    await conn.perform("acknowledge_alert", AlertDraft(UID))
    back = sim.raise_again(UID)
    listed = {a["uid"] for a in await conn.list_alerts()}
    assert listed == {OTHER, back["uid"]} and back["uid"] != UID


async def test_organizations_and_devices_page_by_after(sim, http):
    conn = make(sim, http)
    orgs = await conn.list_organizations(page_size=2)
    assert [o["id"] for o in orgs] == [1, 2, 3, 4, 5]
    assert sim.count("GET", "/v2/organizations") == 3
    devices = await conn.list_devices(page_size=3)
    assert [d["id"] for d in devices] == list(range(101, 108))
    assert sim.count("GET", "/v2/devices") == 3
    assert (await conn.get_device(103))["displayName"] == "SRV-03"
    with pytest.raises(VendorError) as err:
        await conn.get_device(999)
    assert err.value.status == 404


async def test_backup_jobs_follow_the_cursor(sim, http):
    jobs = await make(sim, http).list_backup_jobs(page_size=3)
    assert [j["jobId"] for j in jobs] == [job_id(i) for i in range(7)]
    assert sim.count("GET", "/v2/backup/jobs") == 3


async def test_bad_page_size_is_a_400(sim, http):
    with pytest.raises(VendorError) as err:
        await make(sim, http).list_organizations(page_size=0)
    assert err.value.status == 400 and err.value.retry_safe is True
