"""A throwaway certificate authority for tests that need real TLS on loopback.

    ca = make_test_ca(tmp_path)
    server_ssl = ca.server_context(["localhost", "127.0.0.1"])   # for web.TCPSite / Tornado
    client_ssl = ca.client_context()                              # trusts only this CA

Keys are EC P-256 (generated in milliseconds). Certificates carry the extensions strict verifiers
(Python 3.13's VERIFY_X509_STRICT, browsers) insist on: key identifiers, key usage, serverAuth,
SANs with IP addresses as iPAddress entries.
"""
from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=30)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


class TestCA:
    __test__ = False  # not a pytest test class, whatever module imports it

    def __init__(self, directory: Path):
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vectis Test CA")])
        public = self._key.public_key()
        self.cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_path = directory / "ca.pem"
        self.ca_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._issued = 0

    def issue(self, hosts: list[str] | tuple[str, ...]) -> tuple[Path, Path]:
        """A leaf certificate for `hosts` (DNS names and/or IP addresses): (cert_pem, key_pem) paths.
        The certificate file holds the leaf only; clients trust `ca_path`."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self._issued += 1
        cert_path = self.directory / f"leaf{self._issued}.pem"
        key_path = self.directory / f"leaf{self._issued}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem_key(key))
        key_path.chmod(0o600)
        return cert_path, key_path

    def server_context(self, hosts: list[str] | tuple[str, ...] = ("localhost", "127.0.0.1")) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*self.issue(hosts))
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """Verifies hostnames and trusts this CA only (not the system store)."""
        return ssl.create_default_context(cafile=str(self.ca_path))


def make_test_ca(directory: Path | str | None = None) -> TestCA:
    """A new CA whose files live in `directory` (pytest's tmp_path is a good one); without one, a
    fresh temporary directory that is left for the OS to clean up."""
    path = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="vectis-test-ca-"))
    path.mkdir(parents=True, exist_ok=True)
    return TestCA(path)
