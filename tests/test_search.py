"""Trigram search: pg_trgm rules, the stored trigrams, and index-served search on a real server."""
from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter

import pytest

from vectis.ids import new_id
from vectis.search import (
    SEARCH_FIELDS,
    best_possible_similarity,
    min_shared,
    probe_trigrams,
    score,
    search_terms,
    search_terms_update,
    similarity,
    trigrams,
    with_search_terms,
)
from vectis.search.trigram import text_similarity
from vectis.storage.search import FREQUENCY_TTL_SECONDS, Progress, probe_pipeline, reading_batches, settled

# --- pg_trgm rules -------------------------------------------------------------------------------


def test_trigrams_of_a_word_are_padded_like_pg_trgm():
    assert trigrams("cat") == {"  c", " ca", "cat", "at "}
    assert trigrams("word") == {"  w", " wo", "wor", "ord", "rd "}
    assert trigrams("a") == {"  a", " a "}


def test_trigrams_are_the_union_over_words():
    assert trigrams("two words") == {"  t", " tw", "two", "wo ",
                                     "  w", " wo", "wor", "ord", "rds", "ds "}
    assert trigrams("the the") == trigrams("the")


def test_case_and_punctuation_only_separate_words():
    assert trigrams("Two-Words!") == trigrams("two words")
    assert trigrams("CW-104233") == trigrams("cw 104233")
    assert trigrams("foo_bar") == trigrams("foo bar")  # pg_trgm keeps letters and digits only
    assert trigrams("alice@contoso.com") == trigrams("alice contoso com")
    assert trigrams("CAFÉ") == {"  c", " ca", "caf", "afé", "fé "}


def test_text_without_words_has_no_trigrams():
    assert trigrams("") == frozenset()
    assert trigrams("!!! -- @") == frozenset()


def test_similarity_matches_pg_trgm():
    # pg_trgm: similarity('word', 'two words') = 0.363636 (4 shared of 11 distinct).
    assert similarity("word", "two words") == pytest.approx(4 / 11)
    assert round(similarity("word", "two words"), 6) == 0.363636
    # pg_trgm: similarity('hello', 'hallo') = 0.333333 (3 shared of 9 distinct).
    assert similarity("hello", "hallo") == pytest.approx(1 / 3)
    assert similarity("Password", "password!") == 1.0
    assert similarity("abc", "xyz") == 0.0
    assert similarity("", "") == 0.0
    assert similarity("", "word") == 0.0


def test_score_compares_with_each_word_as_well_as_the_whole_field():
    subject = "VPN disconnects every 10 minutes"
    assert similarity("vpn", subject) < 0.3  # why whole-string similarity alone is not enough
    assert score("vpn", [subject]) == 1.0
    # The word "disconnects" (12 of 16 trigrams) beats the whole subject (16 of 33).
    assert similarity("vpn disconnects", subject) == pytest.approx(16 / 33)
    assert score("vpn disconnects", [subject]) == pytest.approx(12 / 16)
    assert score("pasword", ["Outlook keeps asking for password"]) == pytest.approx(0.7)


def test_score_takes_the_best_field():
    assert score("CW-104233", ["Printer offline", "CW-104233", "bob@example.com"]) == 1.0
    assert score("printer", ["nothing alike", "Printer offline"]) == 1.0
    assert score("printer", []) == 0.0
    assert score("", ["Printer offline"]) == 0.0


def test_min_shared_avoids_the_float_trap():
    assert 0.28 * 25 > 7  # ceil(t * q) would wrongly demand 8 shared trigrams here
    assert min_shared(25, 0.28) == 7
    assert min_shared(10, 0.3) == 3
    assert min_shared(8, 0.3) == 3
    assert min_shared(9, 0.3) == 3
    assert min_shared(11, 0.3) == 4
    assert min_shared(5, 1.0) == 5
    assert min_shared(5, 0.0) == 1
    assert min_shared(0, 0.3) == 1
    with pytest.raises(ValueError):
        min_shared(5, 1.5)


@pytest.mark.parametrize("threshold", [0.1, 0.2, 0.3, 0.45, 0.5, 0.7, 0.9, 1.0])
def test_min_shared_is_a_tight_lower_bound(threshold):
    for q in range(1, 41):
        needed = min_shared(q, threshold)
        # Sound: no candidate sharing fewer trigrams reaches the threshold, whatever its size.
        for w in range(1, 81):
            for shared in range(0, min(q, w) + 1):
                if shared / (q + w - shared) >= threshold:
                    assert shared >= needed, (q, w, shared)
        # Tight: a candidate made only of `needed` query trigrams does reach it.
        assert needed / q >= threshold
        assert needed == 1 or (needed - 1) / q < threshold


def test_probe_trigrams_reach_every_candidate_with_enough_shared():
    rng = random.Random(7)
    pool = sorted(trigrams("the quick brown fox jumps over lazy dogs"))
    for _ in range(40):
        query = frozenset(rng.sample(pool, rng.randint(1, 9)))
        needed = rng.randint(1, len(query))
        probe = set(probe_trigrams(query, needed))
        assert probe <= query and len(probe) == len(query) - needed + 1
        for shared in itertools.combinations(sorted(query), needed):
            assert probe & set(shared), (query, needed, shared)


def test_probe_trigrams_prefer_interior_trigrams():
    query = trigrams("password")  # 9 trigrams, 3 needed: 7 probes, the 2 dropped are boundary ones
    probe = probe_trigrams(query, 3)
    assert len(probe) == 7
    assert {"ass", "ssw", "swo", "wor", "ord", "pas"} <= set(probe)


# --- the stored trigrams -------------------------------------------------------------------------

TICKET = {"_id": "tkt_1", "number": "CW-104233", "subject": "VPN drops",
          "requester": {"name": "Alice", "email": "alice@contoso.com"}, "status": "open"}


def test_with_search_terms_covers_every_searchable_field():
    doc = with_search_terms("tickets", TICKET)
    assert set(doc["search_tg"]) == trigrams("VPN drops") | trigrams("CW-104233") | trigrams("alice@contoso.com")
    assert doc["search_tg"] == sorted(doc["search_tg"])
    assert "search_tg" not in TICKET  # the caller's document is left alone
    # The requester's name and the status are not searchable.
    assert not set(with_search_terms("tickets", {**TICKET, "requester": {"name": "Zed Quill"},
                                                 "status": "waiting"})["search_tg"]) & trigrams("zed quill waiting")


def test_with_search_terms_reads_nested_and_missing_fields():
    asset = {"_id": "ast_1", "name": "FS01", "hardware": {"serial_number": "5CG1234XYZ"}}
    assert set(with_search_terms("assets", asset)["search_tg"]) == trigrams("FS01 5CG1234XYZ")
    assert with_search_terms("tickets", {"_id": "tkt_2", "subject": "x", "requester": None})["search_tg"] == \
        sorted(trigrams("x"))
    assert with_search_terms("notes", {"_id": "not_1"})["search_tg"] == []


def test_unsearchable_collections_are_unchanged():
    invoice = {"_id": "inv_1", "number": "INV-1"}
    assert with_search_terms("invoices", invoice) is invoice


def test_search_fields_name_the_five_categories():
    assert set(SEARCH_FIELDS) == {"tickets", "customers", "assets", "alerts", "notes"}


def test_search_terms_update_recomputes_when_a_searchable_field_changes():
    for changes in ({"subject": "Printer jam"}, {"requester.email": "bob@fabrikam.com"},
                    {"requester": {"name": "Bob", "email": "bob@fabrikam.com"}}):
        update = search_terms_update("tickets", changes, TICKET)
        expected = dict(TICKET)
        for path, value in changes.items():
            if path == "requester.email":
                expected["requester"] = {**TICKET["requester"], "email": value}
            else:
                expected[path] = value
        assert update == {**changes, "search_tg": search_terms("tickets", expected)}
    assert "search_tg" in search_terms_update("assets", {"hardware": {"serial_number": "X1"}},
                                              {"_id": "ast_1", "name": "FS01"})
    assert TICKET["requester"]["email"] == "alice@contoso.com"  # not mutated


def test_search_terms_update_leaves_other_changes_alone():
    assert search_terms_update("tickets", {"status": "closed"}, TICKET) == {"status": "closed"}
    assert search_terms_update("tickets", {"requester.name": "Al"}, TICKET) == {"requester.name": "Al"}
    assert search_terms_update("invoices", {"number": "X"}, {"_id": "inv_1"}) == {"number": "X"}
    with pytest.raises(ValueError):
        search_terms_update("tickets", {"search_tg": []}, TICKET)


# --- search on the database ----------------------------------------------------------------------


def ticket(n: int, subject: str, email: str = "user@contoso.com", status: str = "open") -> dict:
    return {"_id": f"tkt_{n:04d}", "uuid": f"00000000-0000-4000-8000-{n:012d}",
            "number": f"CW-{104200 + n}", "subject": subject,
            "requester": {"name": "User", "email": email}, "status": status}


ACME_TICKETS = [
    ticket(1, "Outlook keeps asking for password"),
    ticket(2, "VPN disconnects every 10 minutes", email="alice.jones@contoso.com"),
    ticket(3, "Printer on 3rd floor offline"),
    ticket(4, "Printer offline"),
    ticket(5, "Passport scan for onboarding"),
    ticket(6, "Teams meetings freeze", status="closed"),
    ticket(7, "Printer offline", status="closed"),
    ticket(33, "Backup failed on FS01", email="bob@fabrikam.com"),
]


@pytest.fixture
async def acme(storage):
    await storage.tenants.create("acme", "Acme")
    assert await storage.bulk.insert_missing("acme", "tickets", ACME_TICKETS) == len(ACME_TICKETS)
    return storage


def ids(results) -> list[str]:
    return [doc["_id"] for doc, _ in results]


async def test_a_word_of_the_subject_finds_the_ticket(acme):
    results = await acme.search.search("acme", "tickets", "vpn")
    assert ids(results) == ["tkt_0002"]
    doc, value = results[0]
    assert value == 1.0 and doc["subject"] == "VPN disconnects every 10 minutes"
    assert "search_tg" not in doc and "_search_shared" not in doc


async def test_exact_ticket_number_ranks_first(acme):
    results = await acme.search.search("acme", "tickets", "CW-104233")
    assert ids(results)[0] == "tkt_0033" and results[0][1] == 1.0
    assert all(value < 1.0 for _, value in results[1:])
    assert len(results) > 1  # the neighbouring numbers share most trigrams


async def test_requester_email_finds_the_ticket(acme):
    results = await acme.search.search("acme", "tickets", "alice.jones@contoso.com")
    assert ids(results)[0] == "tkt_0002" and results[0][1] == 1.0
    results = await acme.search.search("acme", "tickets", "fabrikam")
    assert ids(results) == ["tkt_0033"]


async def test_a_typo_still_finds_the_word(acme):
    results = await acme.search.search("acme", "tickets", "pasword")
    assert ids(results) == ["tkt_0001"]
    assert results[0][1] == 0.7


async def test_results_are_ranked_by_score_then_id(acme):
    results = await acme.search.search("acme", "tickets", "printer offline")
    assert ids(results) == ["tkt_0004", "tkt_0007", "tkt_0003"]
    assert results[0][1] == results[1][1] == 1.0
    assert results[2][1] == round(similarity("printer offline", "Printer on 3rd floor offline"), 3)
    assert results[2][1] < 1.0


async def test_threshold_excludes_weak_matches(acme):
    # "passport" shares 4 of 14 trigrams with "password" (0.286): a candidate, but under 0.3.
    assert ids(await acme.search.search("acme", "tickets", "password")) == ["tkt_0001"]
    loose = await acme.search.search("acme", "tickets", "password", threshold=0.25)
    assert ids(loose) == ["tkt_0001", "tkt_0005"] and loose[1][1] == 0.286
    assert await acme.search.search("acme", "tickets", "pasword", threshold=0.75) == []
    assert await acme.search.search("acme", "tickets", "kubernetes") == []


async def test_filters_apply(acme):
    open_only = await acme.search.search("acme", "tickets", "printer", filters={"status": "open"})
    assert ids(open_only) == ["tkt_0003", "tkt_0004"]
    closed = await acme.search.search("acme", "tickets", "printer", filters={"status": "closed"})
    assert ids(closed) == ["tkt_0007"]
    with pytest.raises(ValueError):
        await acme.search.search("acme", "tickets", "printer", filters={"search_tg": "x"})


async def test_limit_bounds_the_results(acme):
    assert ids(await acme.search.search("acme", "tickets", "printer", limit=2)) == ["tkt_0003", "tkt_0004"]
    assert await acme.search.search("acme", "tickets", "printer", limit=0) == []


async def test_reading_is_bounded(acme):
    outcome = await acme.search.search_outcome("acme", "tickets", "CW-104201", threshold=0.1,
                                               max_documents_read=3)
    assert not outcome.complete and outcome.documents_read == 3
    assert len(outcome.results) <= 3
    outcome = await acme.search.search_outcome("acme", "tickets", "CW-104201", threshold=0.1)
    assert outcome.complete and len(outcome.results) == len(ACME_TICKETS)
    assert outcome.results[0][0]["_id"] == "tkt_0001" and outcome.results[0][1] == 1.0


async def test_a_query_sharing_no_trigram_reads_nothing(acme):
    outcome = await acme.search.search_outcome("acme", "tickets", "qwzx")
    assert outcome.results == [] and outcome.documents_read == 0 and outcome.complete


WORDS = ("printer", "offline", "password", "outlook", "vpn", "backup", "failed", "server", "laptop",
         "slow", "mailbox", "firewall", "printers", "passport", "reset", "maria", "marion", "boot")


async def test_results_equal_a_full_scan_while_reading_less(storage):
    await storage.tenants.create("acme", "Acme")
    rng = random.Random(3)
    docs = [ticket(n, " ".join(rng.sample(WORDS, rng.randint(1, 4))), email=f"{rng.choice(WORDS)}{n % 7}@contoso.com",
                   status=rng.choice(("open", "closed")))
            for n in range(400)]
    await storage.bulk.insert_missing("acme", "tickets", docs)
    stored = await storage.db.tenant("acme")["tickets"].find({}).to_list()

    def full_scan(query, limit, threshold=0.3, status=None):
        scored = [(d["_id"], round(score(query, [d["subject"], d["number"], d["requester"]["email"]]), 3))
                  for d in stored if status in (None, d["status"])]
        return sorted([hit for hit in scored if hit[1] >= threshold], key=lambda h: (-h[1], h[0]))[:limit]

    for query in ("printer", "pasword", "CW-104250", "offline printer", "vpn backup", "mari", "marion",
                  "maria3@contoso.com", "zzzz", "firewal", "passport", "slow laptop boot"):
        for limit in (1, 5, 20):
            for status in (None, "closed"):
                outcome = await storage.search.search_outcome(
                    "acme", "tickets", query, limit=limit, filters={"status": status} if status else None)
                assert outcome.complete
                expected = full_scan(query, limit, status=status)
                assert [(d["_id"], v) for d, v in outcome.results] == expected, (query, limit, status)

    # Stopping early is what makes common words cheap: "printer" needs 6 of its 8 trigrams read to
    # find every match, but 5 perfect hits settle the top 5 after the first index read.
    top5 = await storage.search.search_outcome("acme", "tickets", "printer", limit=5)
    assert [v for _, v in top5.results] == [1.0] * 5
    assert top5.index_reads == 1
    everything = await storage.search.search_outcome("acme", "tickets", "printer", limit=400)
    assert everything.index_reads > 1 and everything.documents_read > top5.documents_read


async def test_perfect_hits_read_in_id_ranges_equal_a_full_scan(storage):
    # Real ids (random base32): the holders of a common word's rarest trigram spread over every
    # id range, and the first ranges settle a top list of perfect hits.
    await storage.tenants.create("acme", "Acme")
    rng = random.Random(21)
    docs = []
    for n in range(600):
        doc = ticket(n, " ".join(rng.sample(WORDS, rng.randint(1, 3))), status=rng.choice(("open", "closed")))
        doc["_id"] = new_id("tkt")
        docs.append(doc)
    await storage.bulk.insert_missing("acme", "tickets", docs)

    def full_scan(query, limit, status=None):
        scored = [(d["_id"], round(score(query, [d["subject"], d["number"], d["requester"]["email"]]), 3))
                  for d in docs if status in (None, d["status"])]
        return sorted([hit for hit in scored if hit[1] >= 0.3], key=lambda h: (-h[1], h[0]))[:limit]

    for query in ("printer", "vpn", "pasword", "offline printer", "maria", "zzzz"):
        for limit in (1, 5, 20, 200):
            for status in (None, "closed"):
                outcome = await storage.search.search_outcome(
                    "acme", "tickets", query, limit=limit, filters={"status": status} if status else None)
                assert outcome.complete
                assert [(d["_id"], v) for d, v in outcome.results] == full_scan(query, limit, status), \
                    (query, limit, status)
    holders = sum(1 for d in docs if "printer" in d["subject"].split())
    top5 = await storage.search.search_outcome("acme", "tickets", "printer", limit=5)
    assert top5.documents_read < holders / 2


def test_reading_batches_grow_with_what_was_read():
    probe = ["a", "b", "c", "d", "e", "f", "g"]
    frequencies = {"a": 1, "b": 2, "c": 6, "d": 15, "e": 28, "f": 271, "g": 500}
    assert list(reading_batches(probe, frequencies, floor=25)) == [["a", "b", "c", "d"], ["e"], ["f"], ["g"]]
    assert list(reading_batches(probe, {}, floor=25)) == [probe]  # all rare: one read
    assert list(reading_batches(probe, frequencies, floor=0)) == [["a"], ["b"], ["c"], ["d"], ["e"], ["f"], ["g"]]
    assert list(reading_batches([], frequencies)) == []


async def test_stopping_early_never_changes_the_results(storage):
    # Short words over a tiny alphabet: many documents sit exactly at the score bounds where
    # stopping one step too early (or a tie on the last place) would change the answer.
    await storage.tenants.create("acme", "Acme")
    rng = random.Random(11)
    syllables = [a + b for a in "abc" for b in "abc"] + list("abc")
    docs = [ticket(n, " ".join(rng.choices(syllables, k=rng.randint(1, 3)))) for n in range(150)]
    await storage.bulk.insert_missing("acme", "tickets", docs)
    mismatches = []
    for _ in range(150):
        query = " ".join(rng.choices(syllables, k=rng.randint(1, 3)))
        limit = rng.randint(1, 4)
        found = await storage.search.search("acme", "tickets", query, limit=limit)
        scored = sorted(((d["_id"], round(score(query, [d["subject"], d["number"], d["requester"]["email"]]), 3))
                         for d in docs), key=lambda h: (-h[1], h[0]))
        expected = [hit for hit in scored if hit[1] >= 0.3][:limit]
        if [(d["_id"], v) for d, v in found] != expected:
            mismatches.append((query, limit))
    assert mismatches == []


def full_scan(docs, query, limit, threshold=0.3, statuses=None):
    """The exact answer: every document scored, best first, ties by _id."""
    scored = [(d["_id"], round(score(query, [d["subject"], d["number"], d["requester"]["email"]]), 3))
              for d in docs if statuses is None or d["status"] in statuses]
    return sorted([hit for hit in scored if hit[1] >= threshold], key=lambda h: (-h[1], h[0]))[:limit]


OPEN = ["new", "open", "in_progress", "waiting"]


async def test_ties_with_the_cap_read_in_ids_equal_a_full_scan(storage):
    # Device names that many customers share ("XX-LT020"): the best hits score exactly what a
    # document lacking the rarest trigrams could (6 of 9 trigrams: 0.667), so the answer rests
    # on ties by _id, read only up to the limit-th hit. Random ids, prefixes, numbers and
    # statuses; every limit, filter and a few thresholds, against scoring every document.
    await storage.tenants.create("acme", "Acme")
    rng = random.Random(17)
    prefixes = ["RA", "BPM", "BPT", "AC", "RD", "MX"]
    docs = []
    for n in range(900):
        device = f"{rng.choice(prefixes)}-{rng.choice(('LT', 'WS', 'LTX'))}{rng.randint(0, 40):03d}"
        subject = rng.choice((f"Laptop {device} won't boot", f"Request: install Teams on {device}",
                              f"{device} slow", device, f"re-register {device}", "MFA: re-register phone"))
        doc = ticket(n, subject, email=f"{rng.choice(('ra', 'lt', 'ann'))}{n % 9}@{rng.choice(prefixes).lower()}.example",
                     status=rng.choice(("new", "open", "closed", "resolved", "waiting")))
        doc["_id"] = new_id("tkt")
        docs.append(doc)
    await storage.bulk.insert_missing("acme", "tickets", docs)
    queries = ["RA-LT020", "BPM-LT004", "lt020", "LT-020", "re-register", "ra lt", "RA-LTX01", "MX",
               "install", "BPT LT014 slow", "ann3@rd.example", "laptop bpm"]
    for query in queries:
        for limit in (1, 3, 20, 60):
            for statuses, threshold in ((None, 0.3), (OPEN, 0.3), (["closed"], 0.3), (None, 0.5), (None, 0.1)):
                filters = {"status": {"$in": statuses}} if statuses else None
                outcome = await storage.search.search_outcome("acme", "tickets", query, limit=limit,
                                                              filters=filters, threshold=threshold)
                assert outcome.complete
                assert [(d["_id"], v) for d, v in outcome.results] == \
                    full_scan(docs, query, limit, threshold, statuses), (query, limit, statuses, threshold)

    # Every one of the ~20 "RA-LT020" documents scores 0.667 (the word "lt020"); the holders of
    # the trigram that settles the ties are read only up to the third one's _id.
    outcome = await storage.search.search_outcome("acme", "tickets", "RA-LT020", limit=3)
    holders = {d["_id"] for d in docs if trigrams("RA-LT020") & trigrams(d["subject"]) & {"lt0", " lt", "t02", "020"}}
    assert outcome.documents_read < len(holders)


class PlainProgress(Progress):
    """Progress with the plain cap: a document lacking r of q trigrams scores at most (q - r) / q."""

    def best(self, lacking: int) -> float:
        return (len(self.ordered) - lacking) / len(self.ordered)


def test_settled_needs_ties_past_the_limit_th_hit():
    hits = {"b": 0.6, "d": 0.6, "a": 0.4}
    q10 = [f"t{i}" for i in range(10)]
    # q = 10, 4 trigrams read: an unread document scores at most 0.6, so ties are possible...
    assert not settled(hits, 2, PlainProgress(q10, full=4), 0.3)
    # ...unless the 5th trigram's holders were read through the 2nd hit's id ("d"): those up to
    # it lack 5 trigrams (<= 0.5), and those after it can only tie and rank after it.
    assert settled(hits, 2, PlainProgress(q10, full=4, upper="d", upper_inclusive=True), 0.3)
    assert not settled(hits, 2, PlainProgress(q10, full=4, upper="d"), 0.3)       # "d" itself not read
    assert not settled(hits, 2, PlainProgress(q10, full=4, upper="c", upper_inclusive=True), 0.3)
    assert settled(hits, 2, PlainProgress(q10, full=5), 0.3)
    assert not settled(hits, 3, PlainProgress(q10, full=6), 0.3)                  # 0.4 == the cap
    assert settled(hits, 3, PlainProgress(q10, full=7), 0.3)
    # Too few hits: every unread document must fall under the threshold.
    assert not settled(hits, 4, PlainProgress(q10, full=7), 0.3)
    assert settled(hits, 4, PlainProgress(q10, full=8), 0.3)


def test_the_cap_counts_the_trigrams_a_word_cannot_do_without():
    query = trigrams("BPM-LT046")        # 10 trigrams; the best hits hold the word "lt046": 0.6
    rest = sorted(query - {"bpm", " bp", "pm ", "t04", "046"})   # "  b", "  l", " lt", "lt0", "46 "
    # Lacking those 5, a text may share the other 5, but "lt0" must go on with a trigram outside
    # the query, "46 " must be reached by one, and so must "  b"'s word: at most 5 / (10 + 3).
    assert best_possible_similarity(rest, query) == 5 / 13 < 0.4
    assert text_similarity(query, "lt0x bz x46") <= 5 / 13
    assert best_possible_similarity(sorted(query), query) == 1.0
    assert best_possible_similarity([], query) == 0.0
    # "office" lacking " of" (and more): "  o" cannot go on with " of", so "  o" and "off" do not
    # join up: 3 shared, 4 forced.
    office = trigrams("office")
    assert best_possible_similarity(["  o", "off", "ce "], office) == 3 / 11 < 0.3


@pytest.mark.parametrize("alphabet", ["ab", "abc", "ab1", "abcd", "xyzab"])
def test_the_cap_bounds_every_text(alphabet):
    # Over tiny alphabets words share and repeat trigrams in every possible way.
    rng = random.Random(alphabet)
    for _ in range(3000):
        query = " ".join("".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(rng.randint(1, 3)))
        text = " ".join("".join(rng.choices(alphabet, k=rng.randint(1, 7))) for _ in range(rng.randint(1, 4)))
        q = trigrams(query)
        available = (q & trigrams(text)) | {t for t in q if rng.random() < 0.3}
        assert text_similarity(q, text) <= best_possible_similarity(available, q), (query, text, available)


async def test_a_score_equal_to_the_threshold_is_a_match(acme):
    # "abcdef" has 7 trigrams, "abcxy" 6, sharing "  a", " ab", "abc": 3 / 10 = 0.3 exactly.
    await acme.bulk.insert_missing("acme", "tickets", [ticket(50, "abcxy")])
    assert similarity("abcdef", "abcxy") == 0.3
    assert [(d["_id"], v) for d, v in await acme.search.search("acme", "tickets", "abcdef")] == [("tkt_0050", 0.3)]


async def test_queries_without_words_or_very_long_ones(acme):
    assert await acme.search.search("acme", "tickets", "") == []
    assert await acme.search.search("acme", "tickets", "@@ -- !!") == []
    long_query = " ".join(f"word{i} printer" for i in range(300))
    assert len(long_query) > 3000
    assert await acme.search.search("acme", "tickets", long_query) == []
    with pytest.raises(ValueError):
        await acme.search.search("acme", "invoices", "printer")


async def test_results_follow_document_changes(acme):
    tickets = acme.db.tenant("acme")["tickets"]
    stored = await tickets.find_one({"_id": "tkt_0006"})
    replacement = with_search_terms("tickets", {**stored, "subject": "Firewall rule request"})
    await tickets.replace_one({"_id": "tkt_0006"}, replacement)
    assert await acme.search.search("acme", "tickets", "teams") == []
    assert ids(await acme.search.search("acme", "tickets", "firewall")) == ["tkt_0006"]

    stored = await tickets.find_one({"_id": "tkt_0002"})
    await tickets.update_one({"_id": "tkt_0002"}, {"$set": search_terms_update(
        "tickets", {"subject": "Laptop battery swollen", "requester.email": "carol@tailspin.com"},
        stored)})
    assert await acme.search.search("acme", "tickets", "vpn") == []
    assert await acme.search.search("acme", "tickets", "alice.jones") == []
    assert "tkt_0002" not in ids(await acme.search.search("acme", "tickets", "alice.jones@contoso.com"))
    assert ids(await acme.search.search("acme", "tickets", "battery")) == ["tkt_0002"]
    assert ids(await acme.search.search("acme", "tickets", "tailspin")) == ["tkt_0002"]


async def test_stale_frequencies_are_refreshed_in_the_background(acme):
    repo = acme.search
    expected = ids(await repo.search("acme", "tickets", "printer"))
    (key, (counts, _)), = repo._frequencies.items()
    assert counts["rin"] == 3    # the sample holds all 8 tickets: exact counts
    repo._frequencies[key] = (Counter(), time.monotonic() - FREQUENCY_TTL_SECONDS - 1)
    assert ids(await repo.search("acme", "tickets", "printer")) == expected   # served meanwhile
    await asyncio.gather(*repo._refreshing.values())
    assert repo._frequencies[key][0] == counts and not repo._refreshing


async def test_insert_missing_never_rewrites_existing_trigrams(acme):
    assert await acme.bulk.insert_missing("acme", "tickets", [ticket(2, "Completely different")]) == 0
    assert ids(await acme.search.search("acme", "tickets", "vpn")) == ["tkt_0002"]
    assert await acme.search.search("acme", "tickets", "completely") == []


async def test_tenants_are_isolated(acme):
    await acme.tenants.create("northwind", "Northwind")
    await acme.bulk.insert_missing("northwind", "tickets", [ticket(90, "Wireless keyboard dead")])
    assert await acme.search.search("acme", "tickets", "keyboard") == []
    assert ids(await acme.search.search("northwind", "tickets", "keyboard")) == ["tkt_0090"]
    assert await acme.search.search("northwind", "tickets", "vpn") == []


async def test_search_global_returns_each_category(acme):
    await acme.bulk.insert_missing("acme", "customers", [{"_id": "cus_1", "name": "Contoso Dental"}])
    await acme.bulk.insert_missing("acme", "assets", [
        {"_id": "ast_1", "name": "FS01", "hardware": {"serial_number": "5CG1234XYZ"}},
        {"_id": "ast_2", "name": "PRINTER-3F", "hardware": {"serial_number": "VNB3K01234"}}])
    await acme.bulk.insert_missing("acme", "alerts", [{"_id": "alr_1", "title": "Printer toner low"}])
    await acme.bulk.insert_missing("acme", "notes", [{"_id": "not_1", "body": "Printer lease ends in May"}])
    hits = await acme.search.search_global("acme", "printer", per_category=2)
    assert list(hits) == ["customers", "tickets", "devices", "alerts", "notes"]
    assert {category: ids(found) for category, found in hits.items()} == {
        "customers": [], "tickets": ["tkt_0003", "tkt_0004"], "devices": ["ast_2"],
        "alerts": ["alr_1"], "notes": ["not_1"]}
    serial = await acme.search.search_global("acme", "5CG1234XYZ")
    assert ids(serial["devices"]) == ["ast_1"] and serial["devices"][0][1] == 1.0


async def test_backfill_makes_older_documents_searchable(acme):
    notes = acme.db.tenant("acme")["notes"]
    await notes.insert_many([{"_id": f"not_{i}", "body": f"Quarterly review number {i}"} for i in range(3)])
    assert await acme.search.search("acme", "notes", "quarterly") == []
    assert await acme.search.backfill("acme", "notes", batch_size=2) == 3
    assert len(await acme.search.search("acme", "notes", "quarterly")) == 3
    assert await acme.search.backfill("acme", "notes") == 0


def _plan_stages(node, found: list[dict]) -> list[dict]:
    """Every plan stage anywhere in an explain output, whatever the server's layout."""
    if isinstance(node, dict):
        if isinstance(node.get("stage"), str):
            found.append(node)
        for value in node.values():
            _plan_stages(value, found)
    elif isinstance(node, list):
        for value in node:
            _plan_stages(value, found)
    return found


@pytest.mark.parametrize("collection", sorted(SEARCH_FIELDS))
async def test_every_searchable_collection_has_the_index(acme, collection):
    indexes = await (await acme.db.tenant("acme")[collection].list_indexes()).to_list()
    assert {"search_tg": 1, "_id": 1} in [dict(index["key"]) for index in indexes]


async def _explain(storage, pipeline) -> list[dict]:
    explained = await storage.db.tenant("acme").command(
        "explain", {"aggregate": "tickets", "pipeline": pipeline, "cursor": {}}, verbosity="queryPlanner")
    return _plan_stages(explained, [])


@pytest.mark.parametrize("filters", [None, {"status": "open"},
                                     {"status": {"$in": ["new", "open"]}, "customer_id": "cus_1"}])
async def test_search_is_served_by_the_index(acme, filters):
    pipeline = probe_pipeline("tickets", sorted(trigrams("printer")), filters)
    stages = await _explain(acme, pipeline)
    assert any(s["stage"] == "IXSCAN" and s.get("indexName") == "search_tg_id" for s in stages), stages
    assert not any(s["stage"] == "COLLSCAN" for s in stages), stages
    # The control: without the index the same reading is a collection scan, which the test would see.
    await acme.db.tenant("acme")["tickets"].drop_index("search_tg_id")
    stages = await _explain(acme, pipeline)
    assert not any(s.get("indexName") == "search_tg_id" for s in stages)


async def test_an_older_trigram_index_is_replaced(acme):
    tickets = acme.db.tenant("acme")["tickets"]
    await tickets.drop_index("search_tg_id")
    await tickets.create_index([("search_tg", 1)], name="search_tg")   # as an older version made it
    await acme.db.ensure_tenant_indexes("acme")
    names = [index["name"] for index in await (await tickets.list_indexes()).to_list()]
    assert "search_tg_id" in names and "search_tg" not in names
