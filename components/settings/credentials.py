"""Credentials and their renewal rules: ``clients.<key>.credential`` → a secret, certificate or federated credential.

Secrets and generated certificates are renewed with overlap (``components/renewal.py``); public
certificates the user brings (``pem``) are parsed, and their thumbprints and expiries checked here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.microsoft import (
    FEDERATED_DEFAULT_AUDIENCE,
    MAX_CREDENTIAL_DAYS,
    RECOMMENDED_MAX_CREDENTIAL_DAYS,
)
from components.renewal import (
    MIN_RENEWABLE_LIFETIME_DAYS,
    MIN_ROTATION_DAYS,
    MIN_VALID_AHEAD_DAYS,
    OVERLAP_DAYS,
    SCHEDULE_INTERVAL_DAYS,
    default_rotation_days,
    min_lifetime_days,
    rfc3339,
)
from components.settings.model import (
    CertificateCredential,
    Credential,
    FederatedCredential,
    GeneratedCertificateCredential,
    PemCertificate,
    SecretCredential,
)
from components.settings.problems import MISSING, Checker

DEFAULT_SECRET_LIFETIME_DAYS = 180
DEFAULT_CERTIFICATE_VALIDITY_DAYS = 365
FEDERATED_SUBJECT_MAX = 600
CERT_SUBJECT_MAX = 64  # X.509 upper bound for a common name


def parse_credential(check: Checker, value: Any, path: str) -> Credential | None:
    """``clients.<key>.credential``: the form its ``type`` names, or None (the problems are recorded)."""
    obj = check.mapping(value, path)
    if obj is None:
        return None
    ctype = obj.get("type", MISSING)
    if ctype == "secret":
        return _secret(check, obj, path)
    if ctype == "certificate":
        return _certificate(check, obj, path)
    if ctype == "federated":
        return _federated(check, obj, path)
    known = ("required" if ctype is MISSING
             else f"not a known type{check.near_miss(path, ctype, ('secret', 'certificate', 'federated'))}")
    check.add(f"{path}.type", ctype, f"{known}; secret, certificate or federated")
    return None


def _renewal(check: Checker, obj: Mapping[str, Any], path: str, lifetime_key: str,
             lifetime: int | None) -> tuple[int, bool] | None:
    """The rotation period for a renewed credential: ``rotationDays`` if given, else picked from the lifetime.

    ``rotationDays`` is checked even when the lifetime is refused, so both problems are reported at once.
    """
    if "rotationDays" in obj:
        rotation = check.integer(obj, "rotationDays", path, MIN_ROTATION_DAYS,
                                 (MAX_CREDENTIAL_DAYS - SCHEDULE_INTERVAL_DAYS) // 2, None,
                                 why=f"the superseded credential stays {OVERLAP_DAYS} days after its successor is "
                                     f"handed out, the weekly schedule adds up to {SCHEDULE_INTERVAL_DAYS} days, "
                                     f"and a client keeps at most two credentials")
        if rotation is None or lifetime is None:
            return None
        if lifetime < min_lifetime_days(rotation):
            check.add(f"{path}.{lifetime_key}", lifetime,
                      f"at least {min_lifetime_days(rotation)} with rotationDays {rotation}: a superseded "
                      f"credential must stay valid through its {OVERLAP_DAYS} days of overlap, and the one handed "
                      f"out valid {MIN_VALID_AHEAD_DAYS} days ahead after every deploy. Raise {lifetime_key} (or "
                      f"lower rotationDays): either replaces nothing, since end dates already set are kept and a "
                      f"credential in use is never removed before its successor's {OVERLAP_DAYS} days")
            return None
        return rotation, False
    if lifetime is None:
        return None
    return default_rotation_days(lifetime), True


# Why a renewed credential lives at least MIN_RENEWABLE_LIFETIME_DAYS, said where the range is refused.
_RENEWABLE_WHY = (f"the program renews the credential on the weekly schedule, keeps the superseded one {OVERLAP_DAYS} "
                  f"days after its successor is handed out, and keeps the handed-out one valid {MIN_VALID_AHEAD_DAYS} "
                  "days ahead")


# Why the maximum, said where a longer lifetime is refused (Microsoft's "Add a client secret": "You cannot
# specify a custom lifetime longer than 24 months"; it recommends under 12).
_MAX_WHY = {
    "lifetimeDays": f"{MAX_CREDENTIAL_DAYS} days is the 24 months Microsoft allows a client secret at most "
                    "(it recommends under 12)",
    "validityDays": f"{MAX_CREDENTIAL_DAYS} days is the 24 months Microsoft allows a client secret at most, and a "
                    "generated certificate is held to the same bound (Microsoft recommends under 12 months)",
}


def _lifetime_why(obj: Mapping[str, Any], key: str) -> str:
    """Why the lifetime range is what it is: the maximum's reason for a value above it, else the minimum's."""
    value = obj.get(key)
    above = isinstance(value, int) and not isinstance(value, bool) and value > MAX_CREDENTIAL_DAYS
    return _MAX_WHY[key] if above else _RENEWABLE_WHY


def _secret(check: Checker, obj: Mapping[str, Any], path: str) -> SecretCredential | None:
    check.only_keys(obj, path, ("type", "lifetimeDays", "rotationDays"))
    lifetime = check.integer(obj, "lifetimeDays", path, MIN_RENEWABLE_LIFETIME_DAYS, MAX_CREDENTIAL_DAYS,
                             DEFAULT_SECRET_LIFETIME_DAYS, why=_lifetime_why(obj, "lifetimeDays"))
    renewal = _renewal(check, obj, path, "lifetimeDays", lifetime)
    if lifetime is None or renewal is None:
        return None
    if lifetime > RECOMMENDED_MAX_CREDENTIAL_DAYS:
        check.warnings.append(
            f"{path}.lifetimeDays is {lifetime}: Microsoft recommends secrets valid for under 12 months"
        )
    return SecretCredential(lifetime_days=lifetime, rotation_days=renewal[0], rotation_chosen=renewal[1])


def _certificate(check: Checker, obj: Mapping[str, Any], path: str
                 ) -> CertificateCredential | GeneratedCertificateCredential | None:
    which = check.exactly_one(obj, ("pem", "generate"), path)
    if which == "generate":
        check.only_keys(obj, path, ("type", "generate"))
        gen = check.mapping(obj["generate"], f"{path}.generate")
        if gen is None:
            return None
        gpath = f"{path}.generate"
        check.only_keys(gen, gpath, ("subject", "validityDays", "rotationDays"))
        subject = check.string(gen, "subject", gpath, max_len=CERT_SUBJECT_MAX,
                               allowed=f"a common name of 1-{CERT_SUBJECT_MAX} characters")
        days = check.integer(gen, "validityDays", gpath, MIN_RENEWABLE_LIFETIME_DAYS, MAX_CREDENTIAL_DAYS,
                             DEFAULT_CERTIFICATE_VALIDITY_DAYS, why=_lifetime_why(gen, "validityDays"))
        renewal = _renewal(check, gen, gpath, "validityDays", days)
        if subject is None or days is None or renewal is None:
            return None
        if days > RECOMMENDED_MAX_CREDENTIAL_DAYS:
            check.warnings.append(f"{gpath}.validityDays is {days}: Microsoft recommends under 12 months")
        return GeneratedCertificateCredential(subject=subject, validity_days=days,
                                              rotation_days=renewal[0], rotation_chosen=renewal[1])
    if which == "pem":
        check.only_keys(obj, path, ("type", "pem"))
        return _pem_certificates(check, obj["pem"], f"{path}.pem")
    return None


_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
MAX_PEM_CERTIFICATES = 2  # current and next: at most two credentials of a client exist at once


def _pem_certificates(check: Checker, value: Any, path: str) -> CertificateCredential | None:
    """``pem``: one PEM or a list of them (current and next), each parsed and re-serialised."""
    entries = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not 1 <= len(value) <= MAX_PEM_CERTIFICATES:
        check.add(path, f"a list of {len(value)}",
                  f"one PEM certificate, or a list of {MAX_PEM_CERTIFICATES} (current and next): "
                  "at most two credentials of a client exist at once")
        return None
    # Each entry's own key path: pem[0], pem[1] for a list, pem for a single certificate.
    paths = [f"{path}[{index}]" for index in range(len(entries))] if isinstance(value, list) else [path]
    parsed: list[PemCertificate] = []
    for entry, where in zip(entries, paths, strict=True):
        cert = _pem_certificate(check, entry, where)
        if cert is not None:
            parsed.append(cert)
    if len(parsed) != len(entries):
        return None
    if len({c.thumbprint for c in parsed}) != len(parsed):
        check.add(path, f"{len(parsed)} certificates", "distinct certificates; the same one is listed twice")
        return None
    credential = CertificateCredential(certificates=tuple(parsed), now=check.now)
    for cert, where in zip(parsed, paths, strict=True):
        if cert.not_after <= check.now:
            # Time never blocks the stack: an expired certificate is left out, the rest deploys.
            check.warnings.append(
                f"{where} (thumbprint {cert.thumbprint}) expired at {rfc3339(cert.not_after)}: it is not "
                "registered; add its successor to the list"
            )
        elif cert is credential.newest and cert.not_after <= check.now + dt.timedelta(days=MIN_VALID_AHEAD_DAYS):
            check.warnings.append(
                f"{where} (thumbprint {cert.thumbprint}) expires at {rfc3339(cert.not_after)}, within "
                f"{MIN_VALID_AHEAD_DAYS} days: add the next certificate to the list (pem: [current, next])"
            )
    return credential


def _pem_certificate(check: Checker, pem: Any, path: str) -> PemCertificate | None:
    if not isinstance(pem, str):
        check.add(path, pem, "a PEM-encoded public certificate (-----BEGIN CERTIFICATE-----)")
        return None
    if "PRIVATE KEY" in pem:
        check.add(path, pem, "looks like a private key: give only the public certificate; "
                  "the private key must stay with the HR client (remove it and rotate it if it was shared)")
        return None
    blocks = _PEM_BLOCK.findall(pem)
    if len(blocks) > 1:
        check.add(path, pem, f"exactly one certificate per entry, found {len(blocks)} (a bundle); list the "
                  "client's own certificates separately (pem: [current, next]) and leave out any chain")
        return None
    try:
        cert = x509.load_pem_x509_certificate((blocks[0] if blocks else pem).encode())
    except ValueError:
        check.add(path, pem, "a PEM-encoded public certificate (-----BEGIN CERTIFICATE-----); this does not parse")
        return None
    if cert.not_valid_before_utc > check.now:
        check.warnings.append(f"{path} is not valid before {rfc3339(cert.not_valid_before_utc)}")
    _warn_long_certificate(check, path, cert)
    return PemCertificate(
        # What the provider sends is this text, base64 encoded: one block, no surrounding text.
        pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        thumbprint=thumbprint(cert),
    )


def _warn_long_certificate(check: Checker, path: str, cert: x509.Certificate) -> None:
    # Entra stores a certificate's own validity as the credential's end date; a long-lived
    # key is what Microsoft's guidance warns against, whoever generated it.
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    if days > MAX_CREDENTIAL_DAYS:
        check.warnings.append(
            f"{path} is valid for {days} days (until {rfc3339(cert.not_valid_after_utc)}): longer than the "
            f"{MAX_CREDENTIAL_DAYS} days this program allows for secrets and generated certificates; "
            "Microsoft recommends under 12 months"
        )
    elif days > RECOMMENDED_MAX_CREDENTIAL_DAYS:
        check.warnings.append(
            f"{path} is valid for {days} days (until {rfc3339(cert.not_valid_after_utc)}): "
            "Microsoft recommends certificates valid for under 12 months"
        )


def thumbprint(cert: x509.Certificate) -> str:
    """SHA-1 of the certificate's DER encoding, upper-case hex: what the portal shows."""
    der = cert.public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def _federated(check: Checker, obj: Mapping[str, Any], path: str) -> FederatedCredential | None:
    check.only_keys(obj, path, ("type", "issuer", "subject", "audiences"))
    issuer = check.string(obj, "issuer", path, max_len=600, allowed="an https URL")
    if issuer is not None:
        parsed = urlparse(issuer)
        if parsed.scheme != "https" or not parsed.netloc:
            check.add(f"{path}.issuer", issuer, "an https URL, for example https://token.actions.githubusercontent.com")
            issuer = None
    subject = check.string(obj, "subject", path, max_len=FEDERATED_SUBJECT_MAX,
                           allowed=f"the workload's subject, 1-{FEDERATED_SUBJECT_MAX} characters")
    audiences = obj.get("audiences", [FEDERATED_DEFAULT_AUDIENCE])
    if (not isinstance(audiences, list) or len(audiences) != 1
            or not all(isinstance(a, str) and a.strip() for a in audiences)):
        check.add(f"{path}.audiences", audiences,
                  f"a list of exactly one audience (Entra accepts one); default [\"{FEDERATED_DEFAULT_AUDIENCE}\"]")
        return None
    if issuer is None or subject is None:
        return None
    return FederatedCredential(issuer=issuer, subject=subject, audiences=tuple(audiences))
