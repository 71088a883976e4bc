"""The credentials table: each client's credential, its expiry and who renews it (and why so often), once per client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from components.renewal import DEFAULT_ROTATION_LADDER_DAYS, MIN_VALID_AHEAD_DAYS, OVERLAP_DAYS, SCHEDULE_INTERVAL_DAYS
from components.settings.model import (
    CertificateCredential,
    FederatedCredential,
    GeneratedCertificateCredential,
    ManagedIdentityClientSettings,
    SecretCredential,
    Settings,
)
from tools.offline.run import ProgramRun
from tools.plan.cells import md

KEY_IN_STATE = "docs/credentials-and-renewal.md, 'Where a generated private key lives'"


@dataclass(frozen=True)
class CredentialCells:
    """One client's row: what it signs in with, until when, and who renews it."""

    credential: str
    expires: str
    renewal: str

    def __str__(self) -> str:
        expires = f"expires {self.expires}" if self.expires[:1].isdigit() else self.expires
        renewal = self.renewal if self.renewal.startswith("nothing") else f"renewed {self.renewal}"
        return f"{self.credential}; {expires}; {renewal}"


def rotation_reason(credential: SecretCredential | GeneratedCertificateCredential) -> str:
    """Why a credential is renewed as often as it is: the config's ``rotationDays``, or the program's pick."""
    if not credential.rotation_chosen:
        return "rotationDays"
    lifetime = credential.lifetime_days if isinstance(credential, SecretCredential) else credential.validity_days
    what = "secret" if isinstance(credential, SecretCredential) else "certificate"
    ladder = ", ".join(str(days) for days in DEFAULT_ROTATION_LADDER_DAYS)
    return (f"picked from the {lifetime}-day lifetime: the longest of {ladder} days that keeps the superseded {what} "
            f"valid through its {OVERLAP_DAYS} days of overlap and the one handed out valid {MIN_VALID_AHEAD_DAYS} "
            f"days ahead after every deploy, that is with the lifetime at least 2 × period + {SCHEDULE_INTERVAL_DAYS} "
            f"and period + {MIN_VALID_AHEAD_DAYS}; rotationDays sets another")


def credential_cells(settings: Settings, key: str, shown: Mapping[str, Any]) -> CredentialCells:
    """One client's credential, expiry and renewal, from its settings and its ``clients`` output."""
    client = settings.clients[key]
    if isinstance(client, ManagedIdentityClientSettings):
        return CredentialCells("managed identity", "no secret the stack holds: Azure manages its keys", "by Azure")
    credential = client.credential
    expires = str(shown.get("credentialExpiresAt", ""))[:10] or "?"
    renews = str(shown.get("credentialRenewsAt", ""))[:10] or "?"
    if isinstance(credential, SecretCredential | GeneratedCertificateCredential):
        what = "secret" if isinstance(credential, SecretCredential) else (
            f"certificate, generated (CN={credential.subject}); its private key is kept in the stack's Pulumi "
            f"state, so whoever can decrypt the state can sign in as {key} ({KEY_IN_STATE})")
        return CredentialCells(what, f"{expires} (the one handed out)",
                               f"every {credential.rotation_days} days by the program ({rotation_reason(credential)}); "
                               f"next from {renews}")
    if isinstance(credential, CertificateCredential):
        listed = ", ".join(f"{c.thumbprint} (until {c.not_after:%Y-%m-%d})" for c in credential.certificates)
        registered = len(credential.registered)
        note = "" if registered == len(credential.certificates) else f"; {registered} registered, expired left out"
        due = credential.newest.not_after - dt.timedelta(days=MIN_VALID_AHEAD_DAYS)
        return CredentialCells(f"certificate {listed}; the private keys stay with you",
                               f"{expires} (the newest certificate's own expiry{note})",
                               f"by you: list the next certificate in pem before {due:%Y-%m-%d}, when make "
                               "check-expiry starts failing")
    if not isinstance(credential, FederatedCredential):
        raise TypeError(f"unknown credential {credential!r}")
    return CredentialCells(f"federated ({credential.issuer}, {credential.subject})", "no secret, no expiry",
                           "nothing to renew")


def render_credentials(settings: Settings, run: ProgramRun, out: TextIO) -> None:
    """The plan's credentials table: one row per client."""
    out.write("\n## Credentials\n\n| client | credential | expires | renewed |\n|---|---|---|---|\n")
    for key, shown in run.outputs["clients"].items():
        cells = credential_cells(settings, key, shown)
        out.write(f"| {md(key)} | {md(cells.credential)} | {md(cells.expires)} | {md(cells.renewal)} |\n")
