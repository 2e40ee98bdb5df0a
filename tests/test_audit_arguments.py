"""What a tool call's audit row keeps of its arguments (vectis.audit.elide_arguments)."""
from __future__ import annotations

from vectis.audit import elide_arguments


def test_secrets_long_text_lists_and_nesting_are_bounded():
    args = {"ticket_id": "tkt_1", "body": "x" * 450, "api_token": "sk-1", "Password": "p",
            "client_secret": "s", "Authorization": "Bearer t", "session_cookie": "c", "credentials": {"a": 1},
            "apiKey": "k", "idempotency_key": "reply-1", "limit": 5, "dry_run": True, "note": None,
            "tags": list(range(25)), "deep": {"a": {"b": {"c": {"d": {"e": 1}}}}}}
    out = elide_arguments(args)
    assert out["ticket_id"] == "tkt_1" and out["limit"] == 5 and out["dry_run"] is True and out["note"] is None
    assert out["body"] == "x" * 200 + "… [450 characters]"
    for key in ("api_token", "Password", "client_secret", "Authorization", "session_cookie", "credentials", "apiKey"):
        assert out[key] == "[elided]", key
    assert out["idempotency_key"] == "present"
    assert out["tags"] == list(range(20)) + ["… 5 more items"]
    assert out["deep"] == {"a": {"b": {"c": "[object of 1 keys]"}}}
    assert elide_arguments({str(i): i for i in range(30)})["…"] == "10 more keys"
    assert args["body"] == "x" * 450            # the caller's arguments are left as they were
