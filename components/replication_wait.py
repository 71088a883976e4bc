"""The wait for a new service principal to replicate through Entra, run inside the program's own process.

Entra is eventually consistent, and ``ApplicationFromTemplate`` returns once the new *application*
is readable, not its service principal.  The notification secret and the job touch the service
principal next, and terraform-provider-azuread (behind pulumi-azuread 6.x) retries neither on a 404
there: ``synchronization_job_resource.go`` reads the principal first with no retry ("... was not
found"), ``synchronization.go``'s ``synchronizationRetryFunc`` retries only 409 and 403.

So the principal's id reaches them through :func:`replicated_service_principal_id`: an ``apply`` that
reads the principal with ``getServicePrincipals(objectIds, ignoreMissing)`` (the same
``GET /servicePrincipals/{id}`` the job's create makes; a 404 is an empty answer, not an error) until
Entra answers.  It is plain Python in the process that builds the component: the stack program's,
or the component package's provider process for a program in another folder or language.  Nothing is
registered for it, so nothing has to be importable where the engine runs a provider (a Python dynamic
resource's provider is pickled by reference to this module and unpickled in the *consumer's* folder,
with the consumer's Python: it failed there; see docs/provisioning-app.md).

* A read that finds the principal at once (every run after the first, or a quick replica) ends the
  wait: one Graph read per ``pulumi up``.
* Once a read has missed, the principal is new: the wait ends after :data:`SIGHTINGS` consecutive
  reads find it, :data:`POLL_SECONDS` apart, as the provider's own waits do (``consistency.go``:
  ``ContinuousTargetOccurence``).
* After :data:`TIMEOUT_SECONDS` the update fails, naming the principal: run it again.
* A preview reads nothing: it creates nothing, and a new app's id is unknown there anyway.
* Except a principal the last deploy already held (its ``provisioningAppServicePrincipalId`` output,
  read by ``components/stack_history.py``): it replicated long ago, so a read that misses it means it
  was deleted (``ApplicationFromTemplate``'s Read checks only the application; the job and the secret
  drop out of the state on refresh).  Waiting cannot bring it back: the run fails at the first miss,
  in a preview as in an update, naming the recovery (:func:`gone_message`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pulumi
import pulumi.dynamic
import pulumi_azuread as azuread

POLL_SECONDS = 5.0
SIGHTINGS = 3
TIMEOUT_SECONDS = 300.0

Reader = Callable[[str], Awaitable[bool]]
"""Whether Entra answers for a service principal object id right now."""


class ReplicationTimeoutError(Exception):
    """Entra did not answer for a new service principal in time."""


class ServicePrincipalGoneError(Exception):
    """A service principal the last deploy held is gone from Entra: it was deleted."""


# Client keys have no capital letter, so this matches the provisioning app alone; a glob, because `make`
# would expand the `$` of a full URN in ARGS (pulumi's --replace takes `*` and `**`).
APP_URN_GLOB = "**::provisioningApp-app"


def gone_message(object_id: str, app_urn: str, stack: str) -> str:
    """What failed and the one way back: replace the app, after unprotecting it (prod stacks protect it)."""
    return (f"the provisioning app's service principal {object_id}, which the last deploy created (output "
            "provisioningAppServicePrincipalId), is gone from Entra: it was deleted, and its provisioning job and "
            "notification settings with it. Waiting or running again cannot bring it back. Recreate the app (a "
            "new service principal, job id and bulkUploadUrl: give the HR client the new bulkUploadUrl; attribute "
            "mappings made in the portal are lost) by replacing it, after unprotecting it:\n"
            f"  pulumi state unprotect --stack {stack} --yes '{app_urn}'\n"
            f"  make up STACK={stack} ARGS='--replace {APP_URN_GLOB}'\n"
            "(docs/provisioning-app.md, 'A deleted service principal')")


def graph_reader(parent: pulumi.Resource) -> Reader:
    """Reads a service principal through the azuread provider the ``parent`` uses."""

    async def read(object_id: str) -> bool:
        found = azuread.get_service_principals_output(
            object_ids=[object_id], ignore_missing=True, opts=pulumi.InvokeOutputOptions(parent=parent))
        object_ids = await found.object_ids.future()
        return object_id in (object_ids or [])

    return read


async def wait_until_readable(object_id: str, read: Reader, *, poll_seconds: float = POLL_SECONDS,
                              sightings: int = SIGHTINGS, timeout_seconds: float = TIMEOUT_SECONDS,
                              gone: Callable[[], str] | None = None) -> str:
    """``object_id`` once Entra answers for it (see the module's docstring); at once in a preview.

    ``gone``: the principal was deployed before, and this says what to do when a read misses it."""
    if gone is not None and not await read(object_id):
        raise ServicePrincipalGoneError(gone())
    if pulumi.runtime.is_dry_run() or gone is not None:
        return object_id
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    missed, seen = False, 0
    while True:
        if await read(object_id):
            seen += 1
            if not missed or seen >= sightings:
                return object_id
        else:
            missed, seen = True, 0
        if loop.time() >= deadline:
            raise ReplicationTimeoutError(
                f"service principal {object_id} was created but Entra did not answer for it "
                f"{sightings} times in a row within {timeout_seconds:.0f} s (replication): run `pulumi up` again")
        await asyncio.sleep(poll_seconds)


def replicated_service_principal_id(object_id: pulumi.Output[str], parent: pulumi.Resource,
                                    read: Reader | None = None, *, deployed: str | None = None,
                                    app_urn: pulumi.Output[str] | None = None) -> pulumi.Output[str]:
    """The ``/servicePrincipals/{objectId}`` id, known once Entra answers for the principal.

    ``deployed``: the principal the last deploy's outputs held; ``app_urn``: the app's, for the recovery."""
    reader = read or graph_reader(parent)
    urn = app_urn if app_urn is not None else pulumi.Output.from_input("")

    async def replicated(values: list[str]) -> str:
        value, app = values
        gone = (lambda: gone_message(value, app, pulumi.get_stack())) if value == deployed else None
        # The module's settings as they are now (a test shortens them).
        ready = await wait_until_readable(value, reader, poll_seconds=POLL_SECONDS, sightings=SIGHTINGS,
                                          timeout_seconds=TIMEOUT_SECONDS, gone=gone)
        return f"/servicePrincipals/{ready}"

    return pulumi.Output.all(object_id, urn).apply(replicated)


class _ReplicationWaitProvider(pulumi.dynamic.ResourceProvider):
    """Kept so a stack deployed with the old wait (a dynamic resource) can delete it.

    The state of ``provisioningApp-replication-wait`` holds this class pickled by reference; the next
    ``pulumi up`` deletes that resource, and the engine unpickles the provider (from the stack
    program's folder, this repository) to call ``delete``, which does nothing.  Remove this class once
    no stack holds the resource.
    """
