"""Values the offline providers return that must be real: Graph's dates, pulumi-tls's Go times, certificates.

The offline Entra (``tools/offline/entra.py``) answers with them, and tests build their data
with them: a real self-signed certificate and key, never a placeholder that would parse differently.
"""

from __future__ import annotations

import datetime as dt
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from components.renewal import rfc3339


def graph_date(text: str) -> str:
    """A date as Graph stores and returns a credential's start or end date: whole seconds, UTC."""
    return rfc3339(parse_time(text))


def parse_time(text: str) -> dt.datetime:
    """RFC 3339 with any fraction (Go's nanoseconds included) and any offset."""
    match = re.fullmatch(r"(.{19})(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    offset = "+00:00" if match.group(3) == "Z" else match.group(3)
    return dt.datetime.fromisoformat(f"{match.group(1)}.{fraction}{offset}").astimezone(dt.UTC)


def go_time_text(moment: dt.datetime) -> str:
    """A time as pulumi-tls returns ``validityStartTime``/``validityEndTime``: Go's ``time.MarshalText``,
    RFC 3339 with nanoseconds (trailing zeros dropped) in the machine's zone (UTC here)."""
    nanos = moment.microsecond * 1000 + 789  # Go keeps the nanoseconds a Python datetime cannot hold
    base = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}".rstrip("0") + "Z"


_KEY_CACHE: list[rsa.RSAPrivateKey] = []


def mock_private_key() -> rsa.RSAPrivateKey:
    """One real key per process: generating RSA keys is slow, and the mock only needs a real one."""
    if not _KEY_CACHE:
        _KEY_CACHE.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEY_CACHE[0]


def self_signed_pem(common_name: str, not_before: dt.datetime, not_after: dt.datetime) -> str:
    """A real self-signed certificate (the mock's stand-in for pulumi-tls, and test data)."""
    key = mock_private_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()
