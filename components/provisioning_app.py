"""The API-driven provisioning app itself: gallery app, notification settings, started job, owners.

What ``provisioningApp.create`` builds, in the order Entra needs it:

1. the gallery app (``ApplicationFromTemplate``: Graph's ``applicationTemplates/{id}/instantiate``),
   which makes an application and its service principal;
2. a wait, in this process, until Entra answers for its service principal (``components/replication_wait.py``);
3. the job's notification settings (``SynchronizationSecret`` ``SyncNotificationSettings``);
4. the synchronization job (``API2AAD`` or ``API2AD``), started;
5. for every client granted ``SynchronizationData-User.Upload.OwnedBy``, an owner of the application.

After creation (day 2, docs/provisioning-app.md), three things are the tenant's, not the config's:

* the **template**: a looked-up template id that differs from the one the app was created from is
  reported with a warning, not applied (``ApplicationFromTemplate.templateId`` is ForceNew: applying it
  deletes the app and its job).  A *configured* ``templateId`` is applied: changing it is the
  deliberate, reviewed way to move the app to another template;
* the **job's state**: the job is started when it is created and never started or paused after, so
  an operator's pause in the portal survives every deploy;
* the **notification settings**: written when the app is created; after that the portal may add keys
  to the same secret (the provider's Read keeps every key and its Update waits for a count that no
  longer matches), so the stack leaves the secret alone and warns when the email differs.

The job's schema (attribute mappings) is not managed here: azuread has no resource for it, and the
template's default mappings are what Entra creates the job with.  Edit them in the portal
(*Provisioning* > *Mappings*) or through Graph's ``.../jobs/{id}/schema``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azuread as azuread

from components.microsoft import job_bulk_upload_url, provisioning_logs_url
from components.replication_wait import replicated_service_principal_id
from components.settings.model import ProvisioningAppCreateSettings

NOTIFICATION_SECRET_KEY = "SyncNotificationSettings"  # noqa: S105 (the name of a synchronization secret)
# Accidental-deletion prevention stays on; 500 is the threshold Entra suggests by default (not verified
# for API-driven jobs).
DELETE_THRESHOLD = 500


def notification_settings(email: str) -> str:
    """The ``SyncNotificationSettings`` secret: Entra's email notices for the job (quarantine, failures).

    Microsoft documents this JSON for cloud sync jobs; that API-driven jobs (API2AAD/API2AD) read the
    same secret is inferred, not documented.
    """
    return json.dumps({"Enabled": True, "Recipients": email, "DeleteThresholdEnabled": True,
                       "DeleteThresholdValue": DELETE_THRESHOLD}, separators=(",", ":"))


@dataclass(frozen=True)
class ProvisioningAppArgs:
    """Inputs of a :class:`ProvisioningApp`."""

    settings: ProvisioningAppCreateSettings
    """The validated ``provisioningApp.create`` config."""
    template_id: str
    """The gallery template's id (looked up before anything was registered, or configured)."""
    owners: Mapping[str, pulumi.Input[str]]
    """Service principal object ids of the clients granted the OwnedBy permission, by client key."""
    protect: bool
    """Pulumi ``protect`` for the app, the job and the ownerships."""
    deployed_service_principal_id: str | None = None
    """The app's service principal as the last deploy's outputs hold it: when Entra no longer answers for
    it, it was deleted, and the run fails at once naming the recovery (components/replication_wait.py)."""


class ProvisioningApp(pulumi.ComponentResource):
    """A gallery API-driven provisioning app with its started synchronization job."""

    application_object_id: pulumi.Output[str]
    """The created application's object id."""
    service_principal_object_id: pulumi.Output[str]
    """The created service principal's object id (the one in ``bulkUploadUrl``)."""
    job_id: pulumi.Output[str]
    """The job's id, ``API2AAD.<32 hex>.<tenant id>`` or ``API2AD.…``."""
    bulk_upload_url: pulumi.Output[str]
    """The job's ``/bulkUpload`` endpoint."""
    template_id: pulumi.Output[str]
    """The gallery template the app was created from (its state: a later lookup does not change it)."""
    provisioning_logs_url: pulumi.Output[str]
    """The job's provisioning logs."""
    owners: dict[str, azuread.ApplicationOwner]
    """Application ownerships of the OwnedBy clients, by client key."""

    def __init__(self, name: str, args: ProvisioningAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("inbound-provisioning-access:index:ProvisioningApp", name, None, opts)
        settings = args.settings
        # A looked-up template id is left alone once the app exists (see the module's docstring); a
        # configured one is applied.  The job's template follows the app's: a job of the other target on
        # the kept app would be neither.
        looked_up = settings.template_id is None
        template_ignored = ["templateId"] if looked_up else []
        app = azuread.ApplicationFromTemplate(
            f"{name}-app",
            display_name=settings.display_name,
            template_id=args.template_id,
            # A replacement (a configured templateId, or `pulumi up --replace`) deletes the old app first:
            # a tenant holds at most two API-driven apps on P1/P2.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, delete_before_replace=True,
                                        ignore_changes=template_ignored),
        )
        if looked_up:
            app.template_id.apply(lambda stored: _warn_template(stored, args.template_id, settings))
        service_principal_id = replicated_service_principal_id(
            app.service_principal_object_id, self, deployed=args.deployed_service_principal_id, app_urn=app.urn)
        notification = azuread.SynchronizationSecret(
            f"{name}-notification",
            service_principal_id=service_principal_id,
            credentials=[azuread.SynchronizationSecretCredentialArgs(
                key=NOTIFICATION_SECRET_KEY, value=notification_settings(settings.notification_email))],
            # Written once: the portal may add keys to the same secret, and the provider's Update then
            # waits for a key count that never matches (docs/provisioning-app.md).
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["credentials"]),
        )
        notification.credentials.apply(lambda stored: _warn_email(stored, settings.notification_email))
        job = azuread.SynchronizationJob(
            f"{name}-job",
            # The /servicePrincipals/{objectId} form: the provider refuses a bare object id here.
            service_principal_id=service_principal_id,
            template_id=settings.job_template_id,
            # Started when created; after that, started and paused by the operator only.
            enabled=True,
            # Started only once its notification email is set: a job started without one is quarantined.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[notification],
                                        ignore_changes=["enabled", *template_ignored]),
        )
        if looked_up:
            job.template_id.apply(lambda stored: _warn_job_template(stored, settings))
        # Application ownership only: azuread 6.x has no resource for the owners of a service principal
        # it did not create (azuread.ServicePrincipal's `owners` would take over the gallery's service
        # principal and rewrite its tags).  docs/provisioning-app.md gives the one command that adds that ownership.
        self.owners = {
            key: azuread.ApplicationOwner(
                f"{name}-owner-{key}",
                application_id=app.application_id,
                owner_object_id=owner,
                # The provider retries a 404 here while a new client's principal replicates.
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            for key, owner in args.owners.items()
        }

        self.application_object_id = app.application_object_id
        self.service_principal_object_id = app.service_principal_object_id
        self.template_id = app.template_id
        # The job's resource id is /servicePrincipals/{sp}/synchronization/jobs/{jobId}.
        self.job_id = job.id.apply(lambda resource_id: resource_id.rsplit("/", 1)[-1])
        self.bulk_upload_url = job.id.apply(job_bulk_upload_url)
        self.provisioning_logs_url = self.job_id.apply(provisioning_logs_url)
        self.register_outputs({
            "servicePrincipalObjectId": self.service_principal_object_id,
            "jobId": self.job_id,
            "bulkUploadUrl": self.bulk_upload_url,
            "templateId": self.template_id,
        })


def _warn_template(stored: str | None, looked_up: str, settings: ProvisioningAppCreateSettings) -> None:
    if stored and stored != looked_up:
        pulumi.warn(
            f"provisioningApp.create: the gallery now answers template {looked_up} for the {settings.target} app; "
            f"the app was created from {stored} and is kept (a new template would delete the app and its job: "
            "a new service principal, job id and bulkUploadUrl, and the mappings made in the portal). To move "
            f"it on purpose, set provisioningApp.create.templateId: {looked_up} (see docs/provisioning-app.md); "
            f"to keep it and silence this, set provisioningApp.create.templateId: {stored}.")


def _warn_job_template(stored: str | None, settings: ProvisioningAppCreateSettings) -> None:
    if stored and stored != settings.job_template_id:
        pulumi.warn(
            f"provisioningApp.create.target is {settings.target} ({settings.job_template_id}) but the job was "
            f"created as {stored}: not applied (it would replace the job on the kept app). Set "
            "provisioningApp.create.templateId to the new target's gallery template to replace app and job "
            "on purpose (see docs/provisioning-app.md).")


def _warn_email(stored: Sequence[Any] | None, email: str) -> None:
    recipients = None
    for credential in stored or []:
        if _field(credential, "key") == NOTIFICATION_SECRET_KEY:
            try:
                recipients = json.loads(str(_field(credential, "value"))).get("Recipients")
            except (ValueError, AttributeError):
                return  # not the JSON this stack writes: nothing to compare
    if recipients is not None and recipients != email:
        # Neither address is shown: the stored one is a secret output, and the configured one may be
        # a --secret config value.
        pulumi.warn(
            "provisioningApp.create.notificationEmail differs from the address in the job's notification "
            "settings in Entra: not applied after creation. Change it in the portal (Provisioning > "
            "Settings > Notification Email), then set the config to match (see docs/provisioning-app.md).")


def _field(credential: Any, name: str) -> Any:
    return credential.get(name) if isinstance(credential, dict) else getattr(credential, name, None)
