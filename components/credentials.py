"""The credential an app registration authenticates with: secret, certificate or federated.

Secrets and generated certificates are renewed with overlap by the rules of
``components/renewal.py``: which credentials exist is decided from the last deploy's ledger
(``components/ledger.py``), and each is named by its generation.  End dates are whole-second UTC and fixed:
the azuread provider replaces a credential whose end date input differs from what Graph
stored, so a secret's end date is the one the ledger recorded (and is ignored after creation)
and a certificate's is its own ``notAfter``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azuread as azuread
import pulumi_tls as tls
from cryptography import x509

from components.ledger import ledger_output
from components.renewal import OVERLAP_DAYS, Decision, Ledger, certificate_key_id, decide, rfc3339
from components.settings.credentials import thumbprint
from components.settings.model import (
    CertificateCredential,
    Credential,
    FederatedCredential,
    GeneratedCertificateCredential,
    SecretCredential,
)

RSA_BITS = 3072
# Inputs that are fixed once a credential exists: a later change (a new lifetime, a new subject, an
# old display name from an earlier version) applies from the next renewal instead of replacing, and
# so cutting off, a credential that is in use.
FIXED_PASSWORD_INPUTS = ["displayName", "endDate"]
FIXED_CERTIFICATE_INPUTS = ["subject", "validityPeriodHours", "allowedUses"]


def certificate_thumbprint(pem: str) -> str:
    """The portal's thumbprint of a PEM certificate."""
    return thumbprint(x509.load_pem_x509_certificate(pem.encode()))


def certificate_end_date(pem: str) -> str:
    """A certificate's own ``notAfter``, whole-second UTC: what Graph stores as the key's end date.

    pulumi-tls's ``validityEndTime`` has nanoseconds, which Graph drops, so an end date taken from
    it differs from what Graph stored and the provider replaces the credential on every run.
    """
    return rfc3339(x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc)


@dataclass
class AttachedCredential:
    """What a client's outputs need to know of its credential."""

    credential_type: str
    """``secret``, ``certificate`` or ``federated``."""
    expires_at: pulumi.Output[str] | None = None
    """End date of the handed-out credential (a bring-your-own list: the newest)."""
    renews_at: str | None = None
    """When the handed-out credential is due for renewal (credentials the program makes)."""
    thumbprint: pulumi.Output[str] | None = None
    secret_material: pulumi.Output[dict[str, str]] | None = None
    """Secret outputs for ``clientCredentials``; always an ``Output.secret``."""
    key_ids: list[pulumi.Output[str]] = field(default_factory=list)
    """Graph key ids of every credential kept (``credentialKeyIds``), the handed-out one first."""
    renewal: dict[str, Any] | None = None
    """The renewal ledger (``clients.<key>.renewal``), values may be outputs; credentials the program makes."""
    details: list[dict[str, Any]] = field(default_factory=list)
    """``clients.<key>.credentials``: per key id, its kind and what tells it from a look-alike (end date,
    thumbprint; a federated credential's issuer, subject and audiences). The key id alone does not: the
    caller chooses a certificate's key id, and a federated credential is edited in place under its id."""


def attach_credential(name: str, credential: Credential, application: azuread.Application,
                      parent: pulumi.Resource, now: dt.datetime, ledger: Ledger | None = None) -> AttachedCredential:
    """Create the credential resources for one app registration.

    ``ledger`` is what the last deploy handed out, read before anything was registered
    (``components/stack_history.py``; None: a new client).  Nothing here derives from a name the user
    may rename (the display name, the stack name): resource names and inputs come from the client
    key, the ledger and the certificate.
    """
    opts = pulumi.ResourceOptions(parent=parent)
    if isinstance(credential, SecretCredential):
        decision = _decide(name, ledger, now, credential.lifetime_days, credential.rotation_days)
        return _secrets(name, decision, application, parent)
    if isinstance(credential, CertificateCredential):
        return _pem_certificates(name, credential, application, parent)
    if isinstance(credential, GeneratedCertificateCredential):
        decision = _decide(name, ledger, now, credential.validity_days, credential.rotation_days)
        return _generated_certificates(name, credential, decision, application, parent)
    return _federated(name, credential, application, opts)


def _decide(name: str, ledger: Ledger | None, now: dt.datetime, lifetime_days: int, rotation_days: int) -> Decision:
    """This deploy's renewal decision, after warning of any credential in use it removes (only ever
    on an upgrade from the calendar version: see ``components/renewal.py``)."""
    decision = decide(ledger, now, lifetime_days, rotation_days)
    for retired in decision.retired:
        if retired.in_use:
            shown = retired.generation or "(from before renewal)"
            pulumi.log.warn(f"clients.{name}: the superseded credential {shown} is removed before its {OVERLAP_DAYS} "
                            f"days ({retired.reason}): a consumer still using it is cut off")
    return decision


def resource_suffix(generation: str) -> str:
    """The resource name suffix of a generation (none for the credential from before renewal)."""
    return f"-{generation}" if generation else ""


def _display_name(generation: str) -> str:
    day = generation[:8]
    shown = f"{day[:4]}-{day[4:6]}-{day[6:]}{generation[8:]}" if day.isdigit() and len(day) == 8 else generation
    return f"renewal {shown} (managed by Pulumi)".replace("  ", " ")


def _secrets(name: str, decision: Decision, application: azuread.Application,
             parent: pulumi.Resource) -> AttachedCredential:
    # Named by generation, dated from the ledger: the same resources and inputs on every run until
    # a renewal is due; then one is created and, at most, the oldest removed.
    passwords: dict[str, azuread.ApplicationPassword] = {}
    for held in decision.kept:
        end = held.end or held.input_end or (held.since or dt.datetime.now(dt.UTC))
        passwords[held.generation] = azuread.ApplicationPassword(
            f"{name}-secret{resource_suffix(held.generation)}",
            application_id=application.id,
            display_name=_display_name(held.generation),
            end_date=rfc3339(end),
            opts=pulumi.ResourceOptions(parent=parent, ignore_changes=FIXED_PASSWORD_INPUTS),
        )
    handed_out = passwords[decision.handed_out.generation]
    # Secret before it is wrapped: marking the dict secret instead would walk it into outputs again.
    secret_value: pulumi.Output[str] = pulumi.Output.secret(handed_out.value)
    return AttachedCredential(
        "secret",
        expires_at=handed_out.end_date,
        renews_at=rfc3339(decision.renews_at),
        secret_material=secret_value.apply(lambda v: {"clientSecret": v}),
        key_ids=[p.key_id for p in passwords.values()],
        renewal=ledger_output("secret", decision, {g: p.key_id for g, p in passwords.items()}),
        details=[{"keyId": p.key_id, "type": "secret", "endDate": p.end_date} for p in passwords.values()],
    )


def _application_certificate(
    name: str, application: azuread.Application, pem: pulumi.Input[str], end_date: pulumi.Input[str],
    opts: pulumi.ResourceOptions, key_id: str | None = None,
) -> azuread.ApplicationCertificate:
    """Register a public certificate on the app; its end date is the certificate's own."""
    return azuread.ApplicationCertificate(
        name,
        application_id=application.id,
        type="AsymmetricX509Cert",
        encoding="pem",
        value=pem,
        end_date=end_date,
        key_id=key_id,
        opts=opts,
    )


def _pem_certificates(name: str, credential: CertificateCredential, application: azuread.Application,
                      parent: pulumi.Resource) -> AttachedCredential:
    # One key credential per certificate, named by its thumbprint, so adding the next certificate
    # or dropping the old one from the list leaves the other untouched.
    registered = sorted(credential.registered, key=lambda c: c.not_after)
    made = []
    for cert in registered:
        legacy = [pulumi.Alias(name=f"{name}-certificate")] if cert is registered[0] else []
        made.append(_application_certificate(
            f"{name}-certificate-{cert.thumbprint[:16].lower()}", application, cert.pem, rfc3339(cert.not_after),
            pulumi.ResourceOptions(parent=parent, aliases=legacy),
        ))
    newest = credential.newest
    return AttachedCredential("certificate", expires_at=pulumi.Output.from_input(rfc3339(newest.not_after)),
                              thumbprint=pulumi.Output.from_input(newest.thumbprint),
                              key_ids=[c.key_id for c in reversed(made)],
                              details=[{"keyId": made_cert.key_id, "type": "certificate", "thumbprint": cert.thumbprint,
                                        "endDate": rfc3339(cert.not_after)}
                                       for cert, made_cert in reversed(list(zip(registered, made, strict=True)))])


def _generated_certificates(name: str, credential: GeneratedCertificateCredential, decision: Decision,
                            application: azuread.Application, parent: pulumi.Resource) -> AttachedCredential:
    made: dict[str, tuple[tls.PrivateKey, tls.SelfSignedCert, azuread.ApplicationCertificate]] = {}
    for held in decision.kept:
        suffix = resource_suffix(held.generation)
        key = tls.PrivateKey(f"{name}-key{suffix}", algorithm="RSA", rsa_bits=RSA_BITS,
                             opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["rsaBits"]))
        # Valid from its creation for validityDays; the tls provider would replace it only once it
        # has expired, and the renewal removes it before that.
        cert = tls.SelfSignedCert(
            f"{name}-cert{suffix}",
            private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=credential.subject),
            validity_period_hours=credential.validity_days * 24,
            allowed_uses=["digital_signature", "key_encipherment", "client_auth"],
            opts=pulumi.ResourceOptions(parent=parent, ignore_changes=FIXED_CERTIFICATE_INPUTS),
        )
        # The key id is set for a new certificate only: one registered before it was (its key id Graph's) is kept.
        app_cert = _application_certificate(
            f"{name}-certificate{suffix}", application, cert.cert_pem,
            cert.cert_pem.apply(certificate_end_date),
            pulumi.ResourceOptions(parent=parent, ignore_changes=["keyId"]),
            certificate_key_id(name, held.generation),
        )
        made[held.generation] = (key, cert, app_cert)
    key, cert, app_cert = made[decision.handed_out.generation]
    material = pulumi.Output.all(cert.cert_pem, key.private_key_pem).apply(
        lambda pems: {"certificatePem": pems[0], "privateKeyPem": pems[1]}
    )
    return AttachedCredential(
        "certificate",
        expires_at=app_cert.end_date,
        renews_at=rfc3339(decision.renews_at),
        thumbprint=cert.cert_pem.apply(certificate_thumbprint),
        secret_material=pulumi.Output.secret(material),
        key_ids=[made[h.generation][2].key_id for h in decision.kept],
        renewal=ledger_output("generatedCertificate", decision, {g: m[2].key_id for g, m in made.items()}),
        details=[{"keyId": made[h.generation][2].key_id, "type": "certificate",
                  "thumbprint": made[h.generation][1].cert_pem.apply(certificate_thumbprint),
                  "endDate": made[h.generation][2].end_date} for h in decision.kept],
    )


def _federated(name: str, credential: FederatedCredential, application: azuread.Application,
               opts: pulumi.ResourceOptions) -> AttachedCredential:
    # Only its id is exported: a federated credential has no secret and no expiry.
    federated = azuread.ApplicationFederatedIdentityCredential(
        f"{name}-federated",
        application_id=application.id,
        display_name=f"{name}-federated",
        description="HR provisioning workload; managed by Pulumi (inbound-provisioning-access)",
        issuer=credential.issuer,
        subject=credential.subject,
        audiences=list(credential.audiences),
        opts=opts,
    )
    return AttachedCredential("federated", key_ids=[federated.credential_id], details=[{
        "keyId": federated.credential_id, "type": "federated", "issuer": credential.issuer,
        "subject": credential.subject, "audiences": list(credential.audiences)}])
