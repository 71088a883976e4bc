"""The access plan as Markdown: access, credentials, the provisioning app's steps, resources, adopted objects, renewal.

Every interpolated value is escaped (``tools/plan/cells.py``); ``make plan`` prints what :func:`render`
writes, and ``make plan-diff`` reuses its access entries and credential cells.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from components.microsoft import GALLERY_APP_NAMES, UPLOAD_OWNED_BY
from components.settings.model import ManagedIdentityClientSettings, Settings
from tools.offline.run import ProgramRun, Registration
from tools.plan.access import APPLICATION_OWNER, GRANT, render_access
from tools.plan.cells import md, md_code
from tools.plan.credentials import render_credentials
from tools.plan.key_vault import left_behind
from tools.plan.renewal import render_renewal


def render(stack: str, stack_file: Path, settings: Settings, run: ProgramRun, out: TextIO,
           history: Mapping[str, Any] | None = None, now: dt.datetime | None = None) -> None:
    """The plan; ``history`` is the last deploy's ``clients`` output (None: a new stack's first deploy)."""
    out.write(f"# Access plan: stack {md_code(stack)}\n\n")
    out.write(f"Offline plan of {md_code(stack_file.name)}: this program run under Pulumi's mock engine. "
              "Nothing was read from or written to a tenant. Role ids are Microsoft's published ids "
              "(planned); `pulumi up` resolves them by value from Microsoft Graph's service principal.\n\n")
    render_access(settings, run, out)
    render_credentials(settings, run, out)
    out.write(f"\n`protect` is **{'on' if settings.protect else 'off'}** for app registrations, service "
              "principals, managed identities and grants.\n")
    if settings.provisioning_app is not None and settings.provisioning_app.create is not None:
        render_provisioning_chain(settings, run, out)
    elif settings.provisioning_app is not None:
        app = settings.provisioning_app
        out.write(f"\nProvisioning app: {md(app.display_name or app.service_principal_id)}, "
                  f"job {md_code(app.job_id)}.\n")
    custom = sorted((r for r in run.registrations if r.custom), key=lambda r: r.name)
    out.write(f"\n## Resources the stack manages ({len(custom)})\n\n| type | name | protect |\n|---|---|---|\n")
    for registration in custom:
        out.write(f"| {md_code(registration.type)} | {md_code(registration.name)} | "
                  f"{'yes' if registration.protect else 'no'} |\n")
    render_adoption(settings, run, out)
    render_renewal(stack, settings, run, history, now or dt.datetime.now(dt.UTC), out)
    behind = left_behind(history, run.outputs["clients"])
    if behind:
        out.write("\n## Key Vault secrets left behind\n\n" + "".join(f"- {md(b.sentence())}\n" for b in behind))
    warnings = [message for level, message in run.logs if level == "warning"]
    if warnings:
        out.write("\n## Warnings\n\n" + "".join(f"- {md(w)}\n" for w in warnings))


def render_provisioning_chain(settings: Settings, run: ProgramRun, out: TextIO) -> None:
    """``provisioningApp.create``: what the stack builds, in order, and what is left to do by hand."""
    app = settings.provisioning_app
    create = app.create if app is not None else None
    if create is None:
        return
    owner_keys = [r.name.split("-owner-", 1)[1] for r in run.of_type(APPLICATION_OWNER)]
    if create.template_id is not None:
        template = f"{md_code(create.template_id)} (configured)"
        template_status = "applied: changing it replaces the app and its job (deliberate)"
    else:
        names = " or ".join(f"\"{n}\"" for n in GALLERY_APP_NAMES[create.target])
        template = f"the gallery app {names}, looked up by display name on deploy"
        template_status = ("read on deploy; once the app exists, a different answer is **reported, not applied** "
                           "(set `templateId` to move the app)")
    steps = [
        ("1. template", template, template_status),
        ("2. app", f"{md_code(create.display_name)} from the template: application and service principal",
         "created on deploy"),
        ("3. wait", "reads the new service principal until Entra answers (replication), in the deploying process",
         "on deploy; one read once it exists"),
        ("4. notification email", f"`SyncNotificationSettings` to {md(create.notification_email)}",
         "written when the app is created; **not touched after** (the portal's; a different address is a warning)"),
        ("5. job", f"{md_code(create.job_template_id)}, started, after the notification email",
         "started when created; **never started or paused after** (the operator's: a pause stays)"),
        ("6. owners of the application",
         ", ".join(owner_keys) if owner_keys else f"none (no client is granted {UPLOAD_OWNED_BY})",
         "created on deploy" if owner_keys else "-"),
    ]
    pending = []
    if owner_keys:
        pending.append(("owners of the service principal", ", ".join(owner_keys),
                        "**pending, manual**: azuread has no resource for it "
                        "(docs/provisioning-app.md, 'Least privilege: the OwnedBy permission')"))
    if create.target == "activeDirectory":
        pending += [
            ("provisioning agent", "install the agent on a domain-joined server and assign it to the app",
             "**pending, manual**: needs delegated permissions "
             "(docs/provisioning-app.md, 'Not managed here, on purpose')"),
            ("domain and OU", "select the domain and default OU on the app's *Provisioning* page",
             "**pending, manual**"),
        ]
    pending.append(("attribute mappings", "the template's defaults; edit in *Provisioning* > *Mappings*",
                    "not managed (azuread has no resource for the job's schema)"))
    out.write(f"\n## Provisioning app (created by this stack, target `{create.target}`)\n\n")
    out.write("| step | what | status |\n|---|---|---|\n")
    for step, what, status in [*steps, *pending]:
        out.write(f"| {step} | {what} | {status} |\n")
    out.write(f"\n`protect` is **{'on' if settings.protect else 'off'}** for the app, the job and the ownerships. "
              "`bulkUploadUrl`, `provisioningLogsUrl` and `provisioningJobId` are known once the job exists.\n")


def render_adoption(settings: Settings, run: ProgramRun, out: TextIO) -> None:
    """Adopted objects: what is imported, and the inputs that change an adopted app on import."""
    adopted = {key: client for key, client in settings.clients.items() if client.adopt is not None}
    if not adopted:
        return
    out.write("\n## Adopted objects (imported on deploy, not created)\n\n"
              "Offline there is no tenant: these are the values the program sets. On deploy the provider "
              "compares them with each imported object as Graph has it, and a difference is applied as an "
              "update right after the import (older Pulumi CLIs stop instead). `make adopt` shows the actual "
              "differences.\n\n")
    for key, client in adopted.items():
        imports = [r for r in run.registrations if r.import_id and r.parent.endswith(f"::{key}")]

        def shown(registration: Registration) -> str:
            # Offline, Graph's service principal id is a placeholder: name it, never show it as real.
            graph_id = str(registration.inputs.get("resourceObjectId", ""))
            return registration.import_id.replace(graph_id, "<Graph's service principal>") if graph_id \
                else registration.import_id

        out.write(f"- **{md(key)}**: " + ", ".join(f"{md_code(r.name)} ← {md_code(shown(r))}" for r in imports)
                  + "\n")
        if isinstance(client, ManagedIdentityClientSettings):
            continue
        app = next((r for r in imports if r.type == "azuread:index/application:Application"), None)
        if app is None:
            continue
        declared = [a["id"] for access in app.inputs.get("requiredResourceAccesses", [])
                    for a in access.get("resourceAccesses", [])]
        roles = {r.inputs["appRoleId"]: r.name.split("-grant-", 1)[1] for r in run.of_type(GRANT)
                 if r.name.startswith(f"{key}-grant-")}
        name, notes, audience = (md_code(app.inputs.get(k)) for k in ("displayName", "notes", "signInAudience"))
        out.write(f"  - on import the app registration gets: displayName {name}; "
                  f"notes {notes}; signInAudience {audience}; "
                  f"declared API permissions exactly {', '.join(roles.get(i, i) for i in declared)} (Role; "
                  "others it declares are dropped); owners: none (any owners are removed); "
                  "redirect URIs, identifier URIs and app roles: none\n"
                  f"  - its own credentials are left alone; the stack adds its {client.credential.type} beside them\n")
