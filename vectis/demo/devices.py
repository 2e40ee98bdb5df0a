"""Assets, monitoring alerts and backup jobs of one customer."""
from __future__ import annotations

from datetime import datetime, timedelta

from ..vendors.datto_bcdr.seed import alert_ref
from . import vocabulary as words
from .accounts import CustomerProfile, random_address
from .context import DAY, HOUR, Generation, midnight, new_id

_WARRANTY_YEARS = {"server": (3, 5), "virtual_machine": (3, 5), "workstation": (3,),
                   "laptop": (3,), "network": (1, 3), "printer": (1,), "mobile": (1,)}
_LIFE_YEARS = {"server": 6, "virtual_machine": 6, "workstation": 5, "laptop": 4, "network": 7,
               "printer": 6, "mobile": 3}
_SERIAL_FORMATS = {"dell": ("", 7), "hp": ("5CG", 7), "lenovo": ("PF", 6), "apple": ("C02", 9),
                   "vm": ("VMW-", 12), "forti": ("FGT60F", 8), "ubnt": ("UB", 10),
                   "meraki": ("Q2", 10), "brother": ("U6", 8), "samsung": ("R5", 9)}
_LAST_SEEN = {"online": (10, 600), "offline": (HOUR, 7 * DAY), "stale": (31 * DAY, 120 * DAY),
              "retired": (60 * DAY, 300 * DAY)}  # seconds ago, by asset status
_ALERT_STATUS_BY_AGE = (  # (younger than, weights for open / acknowledged / resolved)
    (2 * DAY, (45, 20, 35)), (14 * DAY, (15, 15, 70)), (None, (3, 2, 95)))
_BACKUP_STATUSES = (("success", 72, (HOUR, 26 * HOUR)), ("warning", 10, (HOUR, 3 * DAY)),
                    ("failed", 14, (HOUR, 10 * DAY)), ("running", 4, (60, 3 * HOUR)))


def _serial_characters(gen: Generation, length: int) -> str:
    """Up to 16 random upper-case letters and digits."""
    return new_id(gen.rng, "")[1:length + 1].upper()


# assets ----------------------------------------------------------------------------------
def make_assets(gen: Generation, profile: CustomerProfile, customer_id: str) -> list[dict]:
    if profile.status == "prospect":
        return []
    sites = _sites(gen, profile)
    plan = _device_plan(gen, profile)
    assets = []
    for index, (kind, name) in enumerate(plan):
        site_index = 0 if kind in ("server", "virtual_machine") else gen.rng.randrange(len(sites))
        ip = f"10.{10 + site_index}.{index // 250}.{index % 250 + 2}"
        assets.append(_asset(gen, profile, customer_id, kind, name, sites[site_index], ip))
    return assets


def _sites(gen: Generation, profile: CustomerProfile) -> list[dict]:
    sites = [{"name": "Headquarters", "address": profile.address}]
    for _ in range((profile.seats > 40) + (profile.seats > 90)):
        city, state, _area, zip3 = gen.pick(words.CITIES)
        sites.append({"name": f"{gen.pick(words.SITE_NAMES)} - {city}",
                      "address": random_address(gen.rng, city, state, zip3)})
    return sites


def _device_plan(gen: Generation, profile: CustomerProfile) -> list[tuple[str, str]]:
    """(kind, host name) of every device the customer has."""
    seats, code = profile.seats, profile.code
    server_count = 0 if seats < 10 and gen.chance(0.5) else min(len(words.SERVER_ROLES),
                                                                1 + seats // 25)
    plan: list[tuple[str, str]] = []
    if server_count >= 2 and gen.chance(0.5):  # virtualised: one host, guests as VMs
        plan.append(("server", "HV01"))
        plan += [("virtual_machine", role) for role in words.SERVER_ROLES[:server_count]]
    else:
        plan += [("server", role) for role in words.SERVER_ROLES[:server_count]]
    plan += [("network", name) for name in words.NETWORK_NAMES[:2 + min(4, seats // 20)]]
    plan += [("workstation", f"{code}-WS{n:03d}") for n in range(1, round(seats * 0.45) + 1)]
    plan += [("laptop", f"{code}-LT{n:03d}") for n in range(1, round(seats * 0.5) + 1)]
    plan += [("printer", f"PRN-{n:02d}") for n in range(1, 2 + seats // 40)]
    plan += [("mobile", f"{code}-MOB{n:02d}") for n in range(1, round(seats * 0.1) + 1)]
    return plan


def _asset_status(gen: Generation, profile: CustomerProfile, kind: str) -> str:
    if profile.status == "churned":
        return "stale"  # agents were removed when the customer left
    roll = gen.rng.random()
    online_share = 0.92 if kind in ("server", "virtual_machine") else 0.82
    if roll < online_share:
        return "online"
    return "offline" if roll < online_share + 0.07 else ("stale" if roll < 0.97 else "retired")


def _asset(gen: Generation, profile: CustomerProfile, customer_id: str, kind: str, name: str,
           site: dict, ip: str) -> dict:
    status = _asset_status(gen, profile, kind)
    last_seen_at = gen.ago(*_LAST_SEEN[status])
    manufacturer, model, serial_style, cpus, rams, disks = gen.pick(words.HARDWARE[kind])
    prefix, length = _SERIAL_FORMATS[serial_style]
    os_family = "mac" if manufacturer == "Apple" and kind == "laptop" else kind
    os_name, os_version, os_build = gen.pick(words.OPERATING_SYSTEMS[os_family])
    purchased_at = midnight(last_seen_at - timedelta(days=gen.rng.randint(30, 2000)))
    deployed_at = purchased_at + timedelta(days=gen.rng.randint(3, 21), hours=9)
    warranty_end = purchased_at.replace(year=purchased_at.year + gen.pick(_WARRANTY_YEARS[kind]),
                                        day=min(purchased_at.day, 28))
    eol_at = warranty_end.replace(year=purchased_at.year + _LIFE_YEARS[kind])
    rmm = gen.sources["rmm"]
    return {
        "_id": gen.new_id("ast"), "customer_id": customer_id, "site": site, "name": name,
        "kind": kind, "status": status,
        "hardware": {"manufacturer": manufacturer, "model": model,
                     "serial_number": prefix + _serial_characters(gen, length),
                     "cpu": gen.pick(cpus), "ram_gb": gen.pick(rams), "disk_gb": gen.pick(disks)},
        "os": {"name": os_name, "version": os_version, "build": os_build},
        "warranty": {"start": purchased_at, "end": warranty_end,
                     "status": _warranty_status(gen.now, warranty_end)},
        "lifecycle": {"purchased_at": purchased_at, "deployed_at": deployed_at, "eol_at": eol_at,
                      "stage": _lifecycle_stage(gen.now, status, eol_at, warranty_end)},
        "ip_address": ip, "last_seen_at": last_seen_at, "source_id": rmm["_id"],
        "refs": gen.refs(rmm, "asset"), "created_at": deployed_at, "updated_at": last_seen_at,
    }


def _warranty_status(now: datetime, end: datetime) -> str:
    if end < now:
        return "expired"
    return "expiring" if end - now <= timedelta(days=90) else "active"


def _lifecycle_stage(now: datetime, status: str, eol_at: datetime, warranty_end: datetime) -> str:
    if status == "retired":
        return "retired"
    if eol_at < now:
        return "eol"
    return "maintenance" if warranty_end < now else "deployed"


# backup jobs -----------------------------------------------------------------------------
def make_backup_jobs(gen: Generation, profile: CustomerProfile, customer_id: str,
                     assets: list[dict]) -> list[dict]:
    if profile.status not in ("active", "onboarding"):
        return []
    protected = [a for a in assets if a["kind"] in ("server", "virtual_machine")
                 and a["status"] != "retired"]
    jobs = [_backup_job(gen, customer_id, asset, f"{asset['name']} - image backup")
            for asset in protected]
    if gen.chance(0.5):
        jobs.append(_backup_job(gen, customer_id, None, "Microsoft 365 - Exchange & OneDrive"))
    return jobs


def _backup_job(gen: Generation, customer_id: str, asset: dict | None, name: str) -> dict:
    status = gen.rng.choices(_BACKUP_STATUSES, [w for _s, w, _r in _BACKUP_STATUSES])[0]
    last_status, _weight, run_window = status
    last_run_at = gen.ago(*run_window)
    last_success_at, last_error = _last_success_and_error(gen, last_status, last_run_at, asset)
    created_at = (last_success_at or last_run_at) - timedelta(days=gen.rng.randint(1, 700))
    source = gen.sources["backup"]
    return {
        "_id": gen.new_id("bkp"), "customer_id": customer_id,
        "asset_id": asset["_id"] if asset else None, "source_id": source["_id"],
        "vendor": source["vendor"], "name": name, "last_status": last_status,
        "last_run_at": last_run_at, "last_success_at": last_success_at, "last_error": last_error,
        "size_gb": round(gen.rng.uniform(40, 2400) if asset else gen.rng.uniform(20, 900), 1),
        "refs": gen.refs(source, "backup_job"), "created_at": created_at, "updated_at": last_run_at,
    }


def _last_success_and_error(gen: Generation, status: str, last_run_at: datetime,
                            asset: dict | None) -> tuple[datetime | None, str | None]:
    if status == "success":
        return last_run_at, None
    if status == "running":
        return last_run_at - timedelta(days=1), None
    if status == "warning":
        return last_run_at - timedelta(days=gen.rng.randint(1, 3)), gen.pick(words.BACKUP_WARNINGS)
    error = gen.pick(words.BACKUP_ERRORS[:-1]) if asset else words.BACKUP_ERRORS[-1]
    if gen.chance(0.05):
        return None, error  # never succeeded since it was set up
    return last_run_at - timedelta(days=gen.rng.randint(1, 10)), error


# alerts ----------------------------------------------------------------------------------
def make_alerts(gen: Generation, profile: CustomerProfile, customer_id: str,
                assets: list[dict], backups: list[dict]) -> list[dict]:
    if profile.status not in ("active", "onboarding"):
        return []
    monitored = [a for a in assets if a["status"] != "retired"]
    alerts: list[dict] = []
    count = round(len(monitored) * 0.3 * gen.rng.uniform(0.5, 1.5))
    while monitored and len(alerts) < count:
        alerts += _incident(gen, customer_id, monitored)
    taken: set[str] = set()
    for job in backups:
        if job["last_status"] == "failed" and gen.chance(0.8):
            alerts.append(_backup_alert(gen, customer_id, job, taken))
    return alerts


def _incident(gen: Generation, customer_id: str, monitored: list[dict]) -> list[dict]:
    """One alert, or now and then a few correlated ones sharing an incident id."""
    # at least 10 minutes old, so correlated alerts raised up to 5 minutes later are in the past
    created_at = gen.ago(600, 14 * DAY) if gen.chance(0.85) else gen.ago(14 * DAY, 60 * DAY)
    if not gen.chance(0.1):
        return [_rmm_alert(gen, customer_id, gen.pick(monitored), created_at, None)]
    incident_id = gen.new_id("inc")
    return [_rmm_alert(gen, customer_id, gen.pick(monitored),
                       created_at + timedelta(seconds=gen.rng.randint(0, 300) * (n > 0)),
                       incident_id) for n in range(gen.rng.randint(2, 3))]


def _rmm_alert(gen: Generation, customer_id: str, asset: dict, created_at: datetime,
               incident_id: str | None) -> dict:
    severity, title, message = gen.pick(words.ALERTS_BY_KIND[asset["kind"]])
    status = _alert_status(gen, created_at)
    return _alert(gen, customer_id, asset["_id"], gen.sources["rmm"], severity,
                  title.format(name=asset["name"]), message.format(name=asset["name"]),
                  created_at, status, incident_id)


def _backup_alert(gen: Generation, customer_id: str, job: dict, taken: set[str]) -> dict:
    name = job["name"].split(" - ")[0]
    status = "open" if gen.chance(0.6) else "acknowledged"
    source = gen.sources["backup"]
    alert = _alert(gen, customer_id, job["asset_id"], source, "major",
                   f"Backup failed for {name}", job["last_error"], job["last_run_at"], status, None)
    if source["vendor"] == "datto_bcdr":
        # Datto alerts have no id of their own: the one a sync will read back, so the first
        # sync finds these alerts instead of raising them anew and resolving the seeded ones.
        alert["refs"] = gen.refs(source, "alert", alert_ref(customer_id, job["last_run_at"], taken))
    return alert


def _alert_status(gen: Generation, created_at: datetime) -> str:
    age = (gen.now - created_at).total_seconds()
    for younger_than, weights in _ALERT_STATUS_BY_AGE:
        if younger_than is None or age < younger_than:
            return gen.rng.choices(("open", "acknowledged", "resolved"), weights)[0]
    raise AssertionError("unreachable")


def _alert(gen: Generation, customer_id: str, asset_id: str | None, source: dict, severity: str,
           title: str, message: str, created_at: datetime, status: str,
           incident_id: str | None) -> dict:
    history = _alert_history(gen, source["vendor"], created_at, status)
    return {
        "_id": gen.new_id("alr"), "uuid": gen.new_uuid(), "customer_id": customer_id,
        "asset_id": asset_id, "source_id": source["_id"], "vendor": source["vendor"],
        "severity": severity, "status": status, "title": title, "message": message,
        "incident_id": incident_id, "history": history, "created_at": created_at,
        "updated_at": history[-1]["at"],
        "resolved_at": history[-1]["at"] if status == "resolved" else None,
        "refs": gen.refs(source, "alert"),
    }


def _alert_history(gen: Generation, vendor: str, created_at: datetime, status: str) -> list[dict]:
    """Actions oldest first, ending in the one that gives `status`; actors are the vendor's
    automation or an operator's e-mail."""
    operator = gen.pick(gen.operators)["email"]
    if status == "open":
        steps = [] if gen.chance(0.85) else [("resolved", vendor), ("reopened", vendor)]
    elif status == "acknowledged":
        steps = [("acknowledged", operator)]
    else:
        steps = ([("resolved", vendor)] if gen.chance(0.5)
                 else [("acknowledged", operator), ("resolved", operator)])
    history = [{"at": created_at, "action": "created", "actor": vendor}]
    window = max(len(steps), min(int((gen.now - created_at).total_seconds()), 2 * DAY))
    offsets = sorted(gen.rng.sample(range(1, window + 1), len(steps)))
    for offset, (action, actor) in zip(offsets, steps, strict=True):
        history.append({"at": created_at + timedelta(seconds=offset), "action": action,
                        "actor": actor})
    return history
