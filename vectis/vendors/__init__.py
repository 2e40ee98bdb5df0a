"""Connectors to the MSP's PSA, RMM and backup tools, one module per vendor, over one shared
aiohttp session (`http.VendorHttp`). `registry.make_connector(vendor, ...)` picks the class."""
