"""Kaseya VSA X (VSA 10, `https://{instance}.vsax.net/api/v3`, the source's base URL): HTTP Basic
with an API token id and secret.

The notifications API documents only DELETE, which destroys the alert rather than acknowledging
or closing it, so the connector offers no verbs. Its read helpers page through the OData-style
`$top`/`$skip` lists (`{Data, Meta{TotalCount}}`) for the RMM sync.
"""
from __future__ import annotations

import base64
from typing import ClassVar
from urllib.parse import quote

from ..base import Connector
from .reader import KaseyaVsaxRead

NO_UPDATE_VERB = ("Kaseya VSA X notifications API documents only DELETE (destructive); "
                  "no acknowledge or close verb.")
PAGE_SIZE = 100


class KaseyaVsaxConnector(KaseyaVsaxRead, Connector):
    vendor = "kaseya_vsax"
    kind = "rmm"
    verbs = frozenset()
    missing = {"acknowledge_alert": NO_UPDATE_VERB, "resolve_alert": NO_UPDATE_VERB}
    effects: ClassVar[dict[str, str]] = {
        "create_ticket": "Nothing: VSA X has no ticket API (ticketing lives in the PSA).",
        "add_note": "Nothing: VSA X has no ticket notes.",
        "close_ticket": "Nothing: VSA X has no tickets.",
        "acknowledge_alert": "Nothing: VSA X notifications have no acknowledged state and no "
                             "acknowledge call.",
        "resolve_alert": "Nothing: the only notification write is DELETE "
                         "/api/v3/notifications/{id}, which destroys it; Vectis does not call it.",
    }
    SYNC_ENTITIES: ClassVar[dict[str, str]] = {
        "customers": "snapshot", "assets": "snapshot", "alerts": "snapshot"}

    async def auth_headers(self) -> dict[str, str]:
        pair = f"{self.credentials.get('token_id', '')}:{self.credentials.get('token_secret', '')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}

    # --- reads (for sync) ---------------------------------------------------------------------
    async def list_organizations(self, page_size: int = PAGE_SIZE) -> list[dict]:
        return await self._pages("/organizations", page_size)

    async def list_devices(self, page_size: int = PAGE_SIZE) -> list[dict]:
        return await self._pages("/devices", page_size)

    async def list_assets(self, page_size: int = PAGE_SIZE) -> list[dict]:
        return await self._pages("/assets", page_size)

    async def list_alerts(self, page_size: int = PAGE_SIZE) -> list[dict]:
        """The notifications (VSA X's alerts), vendor-shaped."""
        return await self._pages("/notifications", page_size)

    async def get_alert(self, notification_id: int | str) -> dict:
        body = (await self._get(f"/notifications/{quote(str(notification_id), safe='')}")).json()
        return (body or {}).get("Data") or {}

    async def _pages(self, path: str, page_size: int) -> list[dict]:
        return [item async for batch in self._iter_pages(path, page_size) for item in batch]


CONNECTOR = KaseyaVsaxConnector
