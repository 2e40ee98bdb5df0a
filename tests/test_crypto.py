"""vectis.crypto: AES-GCM for small stored secrets, bound to tenant and purpose."""
import base64
import secrets

import pytest

from vectis.crypto import DecryptionError, decrypt, decrypt_text, encrypt

KEY = secrets.token_bytes(32)


def test_round_trip_and_random_nonce():
    a = encrypt(KEY, "acme", "totp", "JBSWY3DPEHPK3PXP")
    b = encrypt(KEY, "acme", "totp", "JBSWY3DPEHPK3PXP")
    assert a != b and "JBSWY3DPEHPK3PXP" not in a
    assert decrypt_text(KEY, "acme", "totp", a) == "JBSWY3DPEHPK3PXP"
    assert decrypt(KEY, "acme", "totp", encrypt(KEY, "acme", "totp", b"\x00\x01")) == b"\x00\x01"


@pytest.mark.parametrize("slug, purpose, key", [
    ("globex", "totp", KEY), ("acme", "signing", KEY), ("acme", "totp", secrets.token_bytes(32)),
])
def test_other_tenant_purpose_or_key_does_not_decrypt(slug, purpose, key):
    token = encrypt(KEY, "acme", "totp", "secret")
    with pytest.raises(DecryptionError):
        decrypt(key, slug, purpose, token)


@pytest.mark.parametrize("token", ["", "v1:", "v1:!!!", "v2:AAAA", "v1:" + "A" * 40])
def test_malformed_is_refused(token):
    with pytest.raises(DecryptionError):
        decrypt(KEY, "acme", "totp", token)


def test_tampering_is_detected():
    token = encrypt(KEY, "acme", "totp", "secret")
    # Flip one bit of the decoded ciphertext: editing a base64 character could touch only
    # padding bits and leave the bytes unchanged.
    raw = bytearray(base64.urlsafe_b64decode(token[len("v1:"):]))
    raw[-20] ^= 0x01
    with pytest.raises(DecryptionError):
        decrypt(KEY, "acme", "totp", "v1:" + base64.urlsafe_b64encode(bytes(raw)).decode())


def test_bad_key_length():
    with pytest.raises(ValueError):
        encrypt(b"short", "acme", "totp", "x")
