"""The API-driven provisioning app itself: gallery app, notification settings, started job, owners.

What ``provisioningApp.create`` builds, in the order Entra needs it:

1. the gallery app (``ApplicationFromTemplate``: Graph's ``applicationTemplates/{id}/instantiate``),
   which makes an application and its service principal;
2. a wait for that service principal to replicate (see :data:`REPLICATION_WAIT`);
3. the job's notification settings (``SynchronizationSecret`` ``SyncNotificationSettings``);
4. the synchronization job (``API2AAD`` or ``API2AD``), started;
5. for every client granted ``SynchronizationData-User.Upload.OwnedBy``, an owner of the application.

The job's schema (attribute mappings) is not managed here: azuread has no resource for it, and the
template's default mappings are what Entra creates the job with.  Edit them in the portal
(*Provisioning* > *Mappings*) or through Graph's ``.../jobs/{id}/schema``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread

from components.microsoft import job_bulk_upload_url, provisioning_logs_url
from components.replication_wait import ReplicationWait
from components.settings.model import ProvisioningAppCreateSettings

# Entra is eventually consistent, and ApplicationFromTemplate returns once the new *application* is
# readable, not its service principal.  The next two resources touch the service principal, and
# terraform-provider-azuread (behind pulumi-azuread 6.x) retries neither on a 404 there:
# synchronization_job_resource.go reads the service principal first with no retry ("... was not
# found"), and synchronization_secret_resource.go retries its PUT only on 409 and 403.  So the stack
# waits once, when the app is created (or replaced: the trigger is the service principal's id);
# later runs do not wait.  Explicit dependencies alone order the calls but cannot outwait replication.
REPLICATION_WAIT_SECONDS = 60
REPLICATION_WAIT = f"{REPLICATION_WAIT_SECONDS}s"

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
    provisioning_logs_url: pulumi.Output[str]
    """The job's provisioning logs."""
    owners: dict[str, azuread.ApplicationOwner]
    """Application ownerships of the OwnedBy clients, by client key."""

    def __init__(self, name: str, args: ProvisioningAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("inbound-provisioning-access:index:ProvisioningApp", name, None, opts)
        settings = args.settings
        app = azuread.ApplicationFromTemplate(
            f"{name}-app",
            display_name=settings.display_name,
            template_id=args.template_id,
            # Changing templateId (or target) replaces the app.  A tenant holds at most two API-driven
            # apps on P1/P2: delete the old one first rather than briefly need a third.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, delete_before_replace=True),
        )
        wait = ReplicationWait(
            f"{name}-replication-wait",
            service_principal_object_id=app.service_principal_object_id,
            seconds=REPLICATION_WAIT_SECONDS,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[app]),
        )
        notification = azuread.SynchronizationSecret(
            f"{name}-notification",
            service_principal_id=app.service_principal_id,
            credentials=[azuread.SynchronizationSecretCredentialArgs(
                key=NOTIFICATION_SECRET_KEY, value=notification_settings(settings.notification_email))],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[wait]),
        )
        job = azuread.SynchronizationJob(
            f"{name}-job",
            # The /servicePrincipals/{objectId} form: the provider refuses a bare object id here.
            service_principal_id=app.service_principal_id,
            template_id=settings.job_template_id,
            enabled=True,
            # Started only once its notification email is set: a job started without one is quarantined.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[notification, wait]),
        )
        # Application ownership only: azuread 6.x has no resource for the owners of a service principal
        # it did not create (azuread.ServicePrincipal's `owners` would take over the gallery's service
        # principal and rewrite its tags).  The README gives the one command that adds that ownership.
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
        # The job's resource id is /servicePrincipals/{sp}/synchronization/jobs/{jobId}.
        self.job_id = job.id.apply(lambda resource_id: resource_id.rsplit("/", 1)[-1])
        self.bulk_upload_url = job.id.apply(job_bulk_upload_url)
        self.provisioning_logs_url = self.job_id.apply(provisioning_logs_url)
        self.register_outputs({
            "servicePrincipalObjectId": self.service_principal_object_id,
            "jobId": self.job_id,
            "bulkUploadUrl": self.bulk_upload_url,
        })
