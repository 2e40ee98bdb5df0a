"""Loopback simulators of the vendors' APIs (aiohttp.web), for the tests and the demo.

Each speaks its vendor's real request and response shapes (../shared/docs/vendors.md), keeps
state in memory, checks credentials the vendor's way, and can be told to misbehave through
`kit.Faults` (in-process) or `POST /_sim/faults` (from another process).
"""
