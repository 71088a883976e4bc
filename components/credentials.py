"""The credential an app registration authenticates with: secret, certificate or federated.

End dates are fixed when a credential is created.  The azuread provider replaces a
credential whose end date changes, so an end date recomputed from "now" on every run
would silently rotate a still-valid secret on every deploy.  Each form below therefore
either derives its end date from something stable (the rotation period, the certificate
itself) or tells Pulumi to ignore later end-date changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
import pulumi_tls as tls
from cryptography import x509

from components.settings import (
    CertificateCredential,
    Credential,
    FederatedCredential,
    GeneratedCertificateCredential,
    SecretCredential,
    rfc3339,
    thumbprint,
)

# Rotation periods are counted from a fixed epoch, so the current period depends only on the date.
ROTATION_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
RSA_BITS = 3072


@dataclass(frozen=True)
class SecretSlot:
    """One secret of a rotating pair, identified by the start of its rotation period."""

    period_start: dt.datetime
    end_date: dt.datetime

    @property
    def suffix(self) -> str:
        """The resource name suffix: the period's start date."""
        return self.period_start.strftime("%Y%m%d")


def rotation_slots(now: dt.datetime, lifetime_days: int, rotation_days: int) -> list[SecretSlot]:
    """The secrets that should exist at ``now``: the current period's, then the previous one's.

    Each secret ends ``lifetime_days`` after its period starts.  Because lifetime ≥ 2 × rotation,
    the previous secret is still valid for the whole current period, so a consumer always has at
    least ``rotation_days`` to pick up the new one before the old one is removed (at the start of
    the next period) or expires.
    """
    period = dt.timedelta(days=rotation_days)
    index = (now - ROTATION_EPOCH) // period
    starts = [ROTATION_EPOCH + index * period, ROTATION_EPOCH + (index - 1) * period]
    return [SecretSlot(start, start + dt.timedelta(days=lifetime_days)) for start in starts]


def certificate_thumbprint(pem: str) -> str:
    """The portal's thumbprint of a PEM certificate."""
    return thumbprint(x509.load_pem_x509_certificate(pem.encode()))


@dataclass
class AttachedCredential:
    """What a client's outputs need to know of its credential."""

    credential_type: str
    """``secret``, ``certificate`` or ``federated``."""
    expires_at: pulumi.Output[str] | None = None
    thumbprint: pulumi.Output[str] | None = None
    secret_material: pulumi.Output[dict[str, str]] | None = None
    """Secret outputs for ``clientCredentials``; always an ``Output.secret``."""


def attach_credential(name: str, display_name: str, credential: Credential,
                      application: azuread.Application, parent: pulumi.Resource,
                      now: dt.datetime) -> AttachedCredential:
    """Create the credential resources for one app registration."""
    opts = pulumi.ResourceOptions(parent=parent)
    if isinstance(credential, SecretCredential):
        return _secret(name, display_name, credential, application, opts, now)
    if isinstance(credential, CertificateCredential):
        cert = _application_certificate(name, application, credential.pem, rfc3339(credential.not_after), opts)
        return AttachedCredential("certificate", expires_at=cert.end_date,
                                  thumbprint=pulumi.Output.from_input(credential.thumbprint))
    if isinstance(credential, GeneratedCertificateCredential):
        return _generated_certificate(name, credential, application, opts)
    return _federated(name, credential, application, opts)


def _secret(name: str, display_name: str, credential: SecretCredential,
            application: azuread.Application, opts: pulumi.ResourceOptions,
            now: dt.datetime) -> AttachedCredential:
    # A password's end date is fixed when it is created: a later run (a new "now", or a changed
    # lifetimeDays) must not replace a secret that is still in use, so Pulumi ignores it after.
    fixed_end = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["endDate"]))
    if credential.rotation_days is None:
        password = azuread.ApplicationPassword(
            f"{name}-secret",
            application_id=application.id,
            display_name=f"{display_name} (managed by Pulumi)",
            end_date=rfc3339(now + dt.timedelta(days=credential.lifetime_days)),
            opts=fixed_end,
        )
        passwords = [password]
    else:
        # Named by period: the same resources on every run within a period, so nothing changes
        # until a new period starts; then the newest slot is created and the oldest removed.
        passwords = [
            azuread.ApplicationPassword(
                f"{name}-secret-{slot.suffix}",
                application_id=application.id,
                display_name=f"{display_name} (rotation {slot.period_start:%Y-%m-%d})",
                end_date=rfc3339(slot.end_date),
                opts=fixed_end,
            )
            for slot in rotation_slots(now, credential.lifetime_days, credential.rotation_days)
        ]
    newest = passwords[0]
    return AttachedCredential(
        "secret",
        expires_at=newest.end_date,
        secret_material=pulumi.Output.secret(newest.value.apply(lambda v: {"clientSecret": v})),
    )


def _application_certificate(
    name: str, application: azuread.Application, pem: pulumi.Input[str], end_date: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> azuread.ApplicationCertificate:
    """Register a public certificate on the app; its end date is the certificate's own."""
    return azuread.ApplicationCertificate(
        f"{name}-certificate",
        application_id=application.id,
        type="AsymmetricX509Cert",
        encoding="pem",
        value=pem,
        end_date=end_date,
        opts=opts,
    )


def _generated_certificate(name: str, credential: GeneratedCertificateCredential,
                           application: azuread.Application,
                           opts: pulumi.ResourceOptions) -> AttachedCredential:
    key = tls.PrivateKey(f"{name}-key", algorithm="RSA", rsa_bits=RSA_BITS, opts=opts)
    cert = tls.SelfSignedCert(
        f"{name}-cert",
        private_key_pem=key.private_key_pem,
        subject=tls.SelfSignedCertSubjectArgs(common_name=credential.subject),
        validity_period_hours=credential.validity_days * 24,
        allowed_uses=["digital_signature", "key_encipherment", "client_auth"],
        opts=opts,
    )
    # The certificate's own validity end, fixed in the tls provider's state at creation.
    app_cert = _application_certificate(name, application, cert.cert_pem, cert.validity_end_time, opts)
    material = pulumi.Output.all(cert.cert_pem, key.private_key_pem).apply(
        lambda pems: {"certificatePem": pems[0], "privateKeyPem": pems[1]}
    )
    return AttachedCredential(
        "certificate",
        expires_at=app_cert.end_date,
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
