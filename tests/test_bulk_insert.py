"""insert_missing on large batches: cut into calls of bounded index entries, all inserted once."""
from vectis.storage.bulk import MAX_INDEX_ENTRIES_PER_CALL, index_entries, split_by_index_entries


def ticket(i: int) -> dict:
    # A subject of many distinct words gives many trigrams, as real tickets do.
    return {"_id": f"tkt_{i:016d}", "uuid": f"00000000-0000-0000-0000-{i:012d}",
            "number": f"T-{i}", "customer_id": "cus_1", "status": "open", "priority": "low",
            "subject": f"Printer {i} jammed again on floor {i % 7} near accounting office zebra",
            "requester": {"name": "R", "email": f"r{i}@example.com"}}


def test_runs_stay_under_the_entry_cap_and_keep_order():
    from vectis.storage.bulk import prepare_documents
    docs = prepare_documents("tickets", [ticket(i) for i in range(1500)])
    runs = split_by_index_entries("tickets", docs)
    assert len(runs) > 1
    assert [d["_id"] for run in runs for d in run] == [d["_id"] for d in docs]
    assert all(sum(index_entries("tickets", d) for d in run) <= MAX_INDEX_ENTRIES_PER_CALL
               for run in runs)
    assert split_by_index_entries("tickets", docs[:1], limit=1) == [docs[:1]]
    assert split_by_index_entries("tickets", []) == []


async def test_a_batch_larger_than_one_call_is_inserted_whole_and_once(storage):
    await storage.tenants.ensure("acme", "Acme")
    docs = [ticket(i) for i in range(1200)]
    assert await storage.bulk.insert_missing("acme", "tickets", docs) == 1200
    assert await storage.bulk.count("acme", "tickets") == 1200
    stored = await storage.db.tenant("acme")["tickets"].find_one({"_id": docs[5]["_id"]})
    assert stored["search_tg"]
    # A second run over an overlapping batch inserts only what is missing.
    again = docs[600:] + [ticket(i) for i in range(1200, 1300)]
    assert await storage.bulk.insert_missing("acme", "tickets", again) == 100
    assert await storage.bulk.count("acme", "tickets") == 1300
