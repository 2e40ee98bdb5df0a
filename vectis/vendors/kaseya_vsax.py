"""Kaseya VSA X (VSA 10, `https://{instance}.vsax.net/api/v3`): HTTP Basic with an API token id
and secret.

The notifications API documents only DELETE, which destroys the alert rather than acknowledging
or closing it, so the connector offers no verbs. Its read helpers page through the OData-style
`$top`/`$skip` lists (`{Data, Meta{TotalCount}}`) for the RMM sync.
"""
from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from .base import Connector, VendorCall
from .http import VendorResponse

NO_UPDATE_VERB = ("Kaseya VSA X notifications API documents only DELETE (destructive); "
                  "no acknowledge or close verb.")
PAGE_SIZE = 100


class KaseyaVsaxConnector(Connector):
    vendor = "kaseya_vsax"
    kind = "rmm"
    verbs = frozenset()
    missing = {"acknowledge_alert": NO_UPDATE_VERB, "resolve_alert": NO_UPDATE_VERB}

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
        out: list[dict] = []
        while True:
            body = (await self._get(path, {"$top": page_size, "$skip": len(out)})).json() or {}
            batch = body.get("Data") or []
            out.extend(batch)
            total = (body.get("Meta") or {}).get("TotalCount")
            # Stop on a short page too, in case an endpoint leaves TotalCount out.
            if not batch or len(batch) < page_size or (total is not None and len(out) >= total):
                return out

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> VendorResponse:
        return await self.send(VendorCall("GET", path, params=params), idempotent=True)


CONNECTOR = KaseyaVsaxConnector
