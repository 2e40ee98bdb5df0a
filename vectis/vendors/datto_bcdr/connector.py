"""Datto BCDR (backup portal API, `https://api.datto.com/v1`): HTTP Basic with the portal's public
and secret key, GET only.

The BCDR REST surface has no writes, so the connector offers no verbs; its read helpers page
through the `{pagination:{page, perPage, totalPages, count}, items}` envelope (`_page`,
`_perPage`) and feed the backup sync. The source's base URL includes `/v1`.
"""
from __future__ import annotations

import base64
from typing import Any, ClassVar
from urllib.parse import quote

from ..base import Connector, SourceSetting
from .reader import DattoBcdrRead

READ_ONLY = "Datto BCDR REST surface is read-only."
PER_PAGE = 100


class DattoBcdrConnector(DattoBcdrRead, Connector):
    vendor = "datto_bcdr"
    kind = "backup"
    verbs = frozenset()
    missing = {"acknowledge_alert": READ_ONLY, "resolve_alert": READ_ONLY}
    effects: ClassVar[dict[str, str]] = {
        "create_ticket": "Nothing: the BCDR API has no tickets (an appliance shows only a count "
                         "of its portal tickets).",
        "add_note": "Nothing: the BCDR API has no notes.",
        "close_ticket": "Nothing: the BCDR API has no tickets.",
        "acknowledge_alert": "Nothing: appliance alerts are read-only (GET only); Datto has no "
                             "acknowledged state in its API.",
        "resolve_alert": "Nothing: an appliance alert leaves Datto's list only when Datto clears "
                         "it (the condition ends, or in the partner portal).",
    }
    settings: ClassVar[tuple[SourceSetting, ...]] = (
        SourceSetting("include_hidden_devices",
                      "1 = also sync appliances hidden in the Datto portal (retired ones, usually); "
                      "0 = leave them out (sent as showHiddenDevices; Datto's own default is 1)",
                      default=0, kind=int),
        SourceSetting("include_child_reseller_devices",
                      "1 = include the appliances of child resellers (showChildResellerDevices, "
                      "Datto's default); 0 = only this partner's own",
                      default=1, kind=int),
    )
    SYNC_ENTITIES: ClassVar[dict[str, str]] = {
        "assets": "snapshot", "backup_jobs": "snapshot", "alerts": "snapshot"}

    async def auth_headers(self) -> dict[str, str]:
        pair = f"{self.credentials.get('public_key', '')}:{self.credentials.get('secret_key', '')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}

    # --- reads (for sync) ---------------------------------------------------------------------
    async def list_devices(self, per_page: int = PER_PAGE, show_hidden: bool | None = None) -> list[dict]:
        """The partner's appliances; hidden ones as `show_hidden` says (None: the source's
        setting)."""
        params = self.device_filters()
        if show_hidden is not None:
            params["showHiddenDevices"] = "1" if show_hidden else "0"
        return await self._pages("/bcdr/device", per_page, params)

    async def get_device(self, serial: str) -> dict:
        return (await self._get(f"/bcdr/device/{_seg(serial)}")).json()

    async def list_assets(self, serial: str, per_page: int = PER_PAGE) -> list[dict]:
        """Agents and shares protected by one appliance, each with its `backups[]` newest first."""
        return await self._pages(f"/bcdr/device/{_seg(serial)}/asset", per_page)

    async def list_device_alerts(self, serial: str, per_page: int = PER_PAGE) -> list[dict]:
        return await self._pages(f"/bcdr/device/{_seg(serial)}/alert", per_page)

    async def list_backups(self, per_page: int = PER_PAGE) -> list[dict]:
        """Every appliance with its protected assets: `[{"device": {...}, "assets": [...]}]`."""
        out = []
        for device in await self.list_devices(per_page):
            assets = await self.list_assets(device["serialNumber"], per_page)
            out.append({"device": device, "assets": assets})
        return out

    async def _pages(self, path: str, per_page: int, params: dict | None = None) -> list[dict]:
        return [item async for batch in self._iter_pages(path, per_page, params) for item in batch]


def _seg(value: Any) -> str:
    return quote(str(value), safe="")


CONNECTOR = DattoBcdrConnector
