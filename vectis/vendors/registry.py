"""Vendor name -> connector class. Each vendor is a package (`vectis.vendors.<vendor>`) whose
`connector` module exposes its class as `CONNECTOR`."""
from __future__ import annotations

import importlib

from .base import Connector
from .http import VendorHttp

VENDORS = ("connectwise", "autotask", "halopsa", "atera", "ninjaone", "datto_bcdr",
           "kaseya_vsax", "ncentral")


def connector_class(vendor: str) -> type[Connector]:
    if vendor not in VENDORS:
        raise KeyError(f"unknown vendor {vendor!r}")
    return importlib.import_module(f"{__package__}.{vendor}.connector").CONNECTOR


# How each vendor is named to operators and in error messages.
DISPLAY_NAMES = {"connectwise": "ConnectWise PSA", "autotask": "Autotask", "halopsa": "HaloPSA",
                 "atera": "Atera", "ninjaone": "NinjaOne", "datto_bcdr": "Datto BCDR",
                 "kaseya_vsax": "Kaseya VSA X", "ncentral": "N-central"}


def make_connector(vendor: str, base_url: str, credentials: dict, http: VendorHttp,
                   settings: dict | None = None) -> Connector:
    return connector_class(vendor)(base_url, credentials, http, settings)
