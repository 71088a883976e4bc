"""The credential an app registration authenticates with: secret, certificate or federated.

Secrets and generated certificates are renewed with overlap on the schedule of
``components/renewal.py``: one credential per rotation period, the current and the previous
period's, so a consumer always has time to switch.  End dates are whole-second UTC and fixed:
the azuread provider replaces a credential whose end date input differs from what Graph
stored, so a secret's end date comes from its period (and is ignored after creation) and a
certificate's is its own ``notAfter``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
import pulumi_tls as tls
from cryptography import x509

from components.renewal import next_renewal, renewal_slots
from components.settings.credentials import rfc3339, thumbprint
from components.settings.model import (
    CertificateCredential,
    Credential,
    FederatedCredential,
    GeneratedCertificateCredential,
    SecretCredential,
)

RSA_BITS = 3072
# Slot and period inputs that are fixed once a credential exists: a later change (a new lifetime, a
# new subject, an old display name from before renewal) applies from the next renewal instead of
# replacing, and so cutting off, a credential that is in use.
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
    """End date of the newest credential."""
    renews_at: str | None = None
    """When the next renewal starts (credentials the program makes)."""
    thumbprint: pulumi.Output[str] | None = None
    secret_material: pulumi.Output[dict[str, str]] | None = None
    """Secret outputs for ``clientCredentials``; always an ``Output.secret``."""


def attach_credential(name: str, credential: Credential, application: azuread.Application,
                      parent: pulumi.Resource, now: dt.datetime) -> AttachedCredential:
    """Create the credential resources for one app registration.

    Nothing here derives from a name the user may rename (the display name, the stack name):
    resource names and inputs come from the client key, the renewal period and the certificate.
    """
    opts = pulumi.ResourceOptions(parent=parent)
    if isinstance(credential, SecretCredential):
        return _secrets(name, credential, application, parent, now)
    if isinstance(credential, CertificateCredential):
        return _pem_certificates(name, credential, application, parent)
    if isinstance(credential, GeneratedCertificateCredential):
        return _generated_certificates(name, credential, application, parent, now)
    return _federated(name, credential, application, opts)


def _previous_slot_aliases(position: int, legacy_name: str) -> list[pulumi.Input[str] | pulumi.Alias]:
    # Before renewal existed, a client had one credential under ``legacy_name``. It becomes the
    # previous slot, so it stays (unchanged) until the next renewal, beside a new current one.
    return [pulumi.Alias(name=legacy_name)] if position == 1 else []


def _secrets(name: str, credential: SecretCredential, application: azuread.Application,
             parent: pulumi.Resource, now: dt.datetime) -> AttachedCredential:
    # Named by period: the same resources on every run within a period, so nothing changes until
    # a new period starts; then the newest slot is created and the oldest removed.
    passwords = [
        azuread.ApplicationPassword(
            f"{name}-secret-{slot.suffix}",
            application_id=application.id,
            display_name=f"renewal {slot.period_start:%Y-%m-%d} (managed by Pulumi)",
            end_date=rfc3339(slot.end_date),
            opts=pulumi.ResourceOptions(parent=parent, ignore_changes=FIXED_PASSWORD_INPUTS,
                                        aliases=_previous_slot_aliases(position, f"{name}-secret")),
        )
        for position, slot in enumerate(renewal_slots(now, credential.lifetime_days, credential.rotation_days))
    ]
    newest = passwords[0]
    return AttachedCredential(
        "secret",
        expires_at=newest.end_date,
        renews_at=rfc3339(next_renewal(now, credential.rotation_days)),
        secret_material=pulumi.Output.secret(newest.value.apply(lambda v: {"clientSecret": v})),
    )


def _application_certificate(
    name: str, application: azuread.Application, pem: pulumi.Input[str], end_date: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> azuread.ApplicationCertificate:
    """Register a public certificate on the app; its end date is the certificate's own."""
    return azuread.ApplicationCertificate(
        name,
        application_id=application.id,
        type="AsymmetricX509Cert",
        encoding="pem",
        value=pem,
        end_date=end_date,
        opts=opts,
    )


def _pem_certificates(name: str, credential: CertificateCredential, application: azuread.Application,
                      parent: pulumi.Resource) -> AttachedCredential:
    # One key credential per certificate, named by its thumbprint, so adding the next certificate
    # or dropping the old one from the list leaves the other untouched.
    registered = sorted(credential.registered, key=lambda c: c.not_after)
    for cert in registered:
        legacy = [pulumi.Alias(name=f"{name}-certificate")] if cert is registered[0] else []
        _application_certificate(
            f"{name}-certificate-{cert.thumbprint[:16].lower()}", application, cert.pem, rfc3339(cert.not_after),
            pulumi.ResourceOptions(parent=parent, aliases=legacy),
        )
    newest = credential.newest
    return AttachedCredential("certificate", expires_at=pulumi.Output.from_input(rfc3339(newest.not_after)),
                              thumbprint=pulumi.Output.from_input(newest.thumbprint))


def _generated_certificates(name: str, credential: GeneratedCertificateCredential,
                            application: azuread.Application, parent: pulumi.Resource,
                            now: dt.datetime) -> AttachedCredential:
    made: list[tuple[tls.PrivateKey, tls.SelfSignedCert, azuread.ApplicationCertificate]] = []
    for position, slot in enumerate(renewal_slots(now, credential.validity_days, credential.rotation_days)):
        def opts(legacy: str, fixed: list[str] | None = None, position: int = position) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=parent, ignore_changes=fixed,
                                          aliases=_previous_slot_aliases(position, legacy))

        key = tls.PrivateKey(f"{name}-key-{slot.suffix}", algorithm="RSA", rsa_bits=RSA_BITS,
                             opts=opts(f"{name}-key", ["rsaBits"]))
        # Valid from its creation for validityDays; the tls provider would replace it only once it
        # has expired, and the renewal removes it long before that.
        cert = tls.SelfSignedCert(
            f"{name}-cert-{slot.suffix}",
            private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=credential.subject),
            validity_period_hours=credential.validity_days * 24,
            allowed_uses=["digital_signature", "key_encipherment", "client_auth"],
            opts=opts(f"{name}-cert", FIXED_CERTIFICATE_INPUTS),
        )
        app_cert = _application_certificate(
            f"{name}-certificate-{slot.suffix}", application, cert.cert_pem,
            cert.cert_pem.apply(certificate_end_date), opts(f"{name}-certificate"),
        )
        made.append((key, cert, app_cert))
    key, cert, app_cert = made[0]
    material = pulumi.Output.all(cert.cert_pem, key.private_key_pem).apply(
        lambda pems: {"certificatePem": pems[0], "privateKeyPem": pems[1]}
    )
    return AttachedCredential(
        "certificate",
        expires_at=app_cert.end_date,
        renews_at=rfc3339(next_renewal(now, credential.rotation_days)),
        thumbprint=cert.cert_pem.apply(certificate_thumbprint),
        secret_material=pulumi.Output.secret(material),
    )


def _federated(name: str, credential: FederatedCredential, application: azuread.Application,
               opts: pulumi.ResourceOptions) -> AttachedCredential:
    # Nothing of it is exported: a federated credential has no secret and no expiry.
    azuread.ApplicationFederatedIdentityCredential(
        f"{name}-federated",
        application_id=application.id,
        display_name=f"{name}-federated",
        description="HR provisioning workload; managed by Pulumi (inbound-provisioning-access)",
        issuer=credential.issuer,
        subject=credential.subject,
        audiences=list(credential.audiences),
        opts=opts,
    )
    return AttachedCredential("federated")
