from vectis.app import make_services
from vectis.runtime import start_http
from vectis.storage import Storage, make_client

from .conftest import make_config
from .support.processes import free_port


async def test_healthz_and_readyz_on_any_host(live_server, http):
    for url in (f"http://127.0.0.1:{live_server.port}", live_server.url("nosuch", "")):
        async with http.get(url + "/healthz") as resp:
            assert resp.status == 200 and await resp.json() == {"status": "ok"}
        async with http.get(url + "/readyz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ready", "checks": {"indexes": "ok", "database": "ok"}}
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_readyz_fails_while_database_is_unreachable_and_indexes_pending(tmp_path, http, db_prefix):
    dead = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    storage = Storage(make_client(dead, serverSelectionTimeoutMS=300), db_prefix)
    port = free_port()
    services = make_services(make_config(tmp_path, dead, db_prefix, port=port), storage)
    server, _ = start_http(services, "127.0.0.1", port)
    try:
        async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
            assert resp.status == 503
            assert await resp.json() == {"status": "not_ready",
                                         "checks": {"indexes": "pending", "database": "unreachable"}}
        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.status == 200
    finally:
        server.stop()
        await storage.close()
