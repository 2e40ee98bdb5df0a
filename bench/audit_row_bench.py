"""What one read tool's audit row costs the embedded database, with the audit log's indexes of
before and after they became partial (docs/benchmarks.md, MCP stack overhead).

    python bench/audit_row_bench.py [--batches 200] [--oplog]

One SecantusDB (standalone, as the server runs it; --oplog as a replica set, as before), two
collections with the two index sets, batches of 50 read rows (no target) inserted into each in
turn; prints the database's CPU time per row for each, read from /proc. Loopback only.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymongo import ASCENDING as ASC  # noqa: E402
from pymongo import DESCENDING as DESC  # noqa: E402
from pymongo import IndexModel, MongoClient  # noqa: E402

from vectis import embedded_db  # noqa: E402
from vectis.audit import audit_row  # noqa: E402
from vectis.storage.indexes import TENANT_INDEXES  # noqa: E402

OLD_INDEXES = [
    IndexModel([("at", DESC)], name="at"),
    IndexModel([("target.kind", ASC), ("target.id", ASC), ("at", DESC)], name="target"),
    IndexModel([("target.kind", ASC), ("target.uuid", ASC)], name="target_uuid"),
    IndexModel([("actor.credential_id", ASC), ("at", DESC)], name="actor"),
]
ACTOR = {"kind": "pat", "credential_id": "pat_bench", "user_id": "usr_bench", "email": "a@b.example",
         "client_id": None}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200, help="batches of 50 rows per index set")
    parser.add_argument("--oplog", action="store_true", help="run the database as a replica set (with an oplog)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="audit-row-bench-"))
    database = embedded_db.EmbeddedDatabase(workdir)
    if args.oplog:
        real_popen = embedded_db.subprocess.Popen

        class _Subprocess:
            DEVNULL, STDOUT = embedded_db.subprocess.DEVNULL, embedded_db.subprocess.STDOUT

            @staticmethod
            def Popen(argv, *a, **kw):  # noqa: N802 (subprocess's name)
                return real_popen([x for x in argv if x != "--standalone"], *a, **kw)
        embedded_db.subprocess = _Subprocess
    try:
        client = MongoClient(database.start())
        pid = database.process.pid
        db = client["audit_row_bench"]
        db["before"].create_indexes(OLD_INDEXES)
        db["after"].create_indexes(TENANT_INDEXES["audit_log"])
        spent = {"before": 0.0, "after": 0.0}
        rows = 0
        for i in range(args.batches):
            for name in ("before", "after") if i % 2 else ("after", "before"):
                batch = [audit_row(actor=ACTOR, action="list_customers", status="success", kind="read",
                                   duration_ms=1.0) for _ in range(50)]
                start = cpu_seconds(pid)
                db[name].insert_many(batch, ordered=False)
                spent[name] += cpu_seconds(pid) - start
            rows += 50
        client.close()
        print(f"database {'with oplog' if args.oplog else 'standalone'}, {rows} read rows per index set: "
              + ", ".join(f"{name} {1000 * s / rows:.3f} ms of database CPU per row" for name, s in spent.items()),
              f"(load average {os.getloadavg()[0]:.1f})")
    finally:
        database.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
