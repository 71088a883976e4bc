"""make verify --deployer: the provisioning job's state and notification settings, as Graph reports them.

The stack starts the job it creates and then leaves it alone, and writes the notification settings
once (docs/provisioning-app.md, "Day 2"): an operator may pause the job, Entra may quarantine it, and
the portal may empty the notification settings, and no deploy shows any of it. This reads, as the
deployer or the auditor (``GET``, nothing changed), the job at ``provisioningAppServicePrincipalId`` /
``provisioningJobId`` of the stack's outputs and its synchronization secrets (the read the azuread
provider's refresh makes), and says:

* **QUARANTINED** (a mismatch: ``make verify`` fails, and so does the weekly run): Entra stopped the
  job, with its reason and since when; fix the cause, then start it again;
* **PAUSED**: reported, not a failure: the job's state belongs to whoever operates provisioning;
* **NO-NOTIFY** (a mismatch): ``SyncNotificationSettings`` is missing, disabled or has no recipient,
  so nobody hears of a quarantine (and Entra quarantines a job started without one).

The recipients are counted, never printed (the stack keeps them as a secret output).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tools.tenant.graph_reader import GraphAccessError, GraphReader, ObjectGoneError

NOTIFICATION_KEY = "SyncNotificationSettings"
# Graph: Get synchronizationJob names Synchronization.Read.All (Application.ReadWrite.OwnedBy for an app
# that owns the provisioning app); people need a role such as Application Administrator.
PERMISSION = "Synchronization.Read.All"
PERMISSION_HINT = (f"reading the provisioning job needs Microsoft Graph {PERMISSION} (a pipeline's service principal: "
                   "that application permission, admin-consented; a person: Application Administrator, Cloud "
                   "Application Administrator or Hybrid Identity Administrator)")


@dataclass
class JobCheck:
    """What Graph says of the stack's provisioning job."""

    job_id: str
    service_principal_id: str
    state: str = "?"
    notifications: str = "?"
    verdict: str = "OK"
    reasons: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.verdict in {"QUARANTINED", "NO-NOTIFY", "GONE", "UNKNOWN"}


_JOB_OUTPUTS = ("provisioningAppServicePrincipalId", "provisioningJobId")


def provisioning_job(outputs: Mapping[str, Any]) -> tuple[str, str] | None:
    """(service principal object id, job id) of the stack's provisioning app, when its outputs name one.

    None only when the outputs have neither: a stack with a provisioning app whose outputs hold one of them
    empty or unknown (an errored run keeps ``None``) gives ``""`` for it, which :func:`check_job` fails."""
    if not any(key in outputs for key in _JOB_OUTPUTS):
        return None
    sp, job = (outputs.get(key) for key in _JOB_OUTPUTS)
    return (sp if isinstance(sp, str) else "", job if isinstance(job, str) else "")


def check_job(service_principal_id: str, job_id: str, reader: GraphReader) -> JobCheck:
    """Read the job and its notification settings; raises ``GraphAccessError`` when the read is refused."""
    check = JobCheck(job_id or "?", service_principal_id or "?")
    if not service_principal_id or not job_id:
        check.state, check.verdict = "unknown", "UNKNOWN"
        check.reasons.append("the stack's outputs name a provisioning app without both its service principal and its "
                             "job id (provisioningAppServicePrincipalId, provisioningJobId): the job was not checked. "
                             "Run `make up` and check again")
        return check
    base = f"/servicePrincipals/{service_principal_id}/synchronization"
    try:
        job = reader.get(f"{base}/jobs/{job_id}")
        secrets = list(reader.collection(f"{base}/secrets"))
    except ObjectGoneError:
        check.state, check.verdict = "gone", "GONE"
        check.reasons.append("the job or its service principal is gone (deleted): the next `make up` fails naming "
                             "the recovery (docs/provisioning-app.md, 'A deleted service principal')")
        return check
    except GraphAccessError as error:
        if "refused" in str(error):
            raise GraphAccessError(f"{error}; {PERMISSION_HINT}") from error
        raise
    _judge_state(check, job)
    _judge_notifications(check, secrets)
    return check


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _judge_state(check: JobCheck, job: Mapping[str, Any]) -> None:
    status, schedule = _object(job.get("status")), _object(job.get("schedule"))
    code = str(status.get("code") or "").casefold()
    scheduled = str(schedule.get("state") or "").casefold()
    quarantine = status.get("quarantine")
    check.state = str(status.get("code") or schedule.get("state") or "unknown")
    if not code and not scheduled:
        check.verdict = "UNKNOWN"
        check.reasons.append("Graph's answer holds neither the job's status nor its schedule: its state is unknown, "
                             "so it is not reported as running")
    elif code == "quarantine" or isinstance(quarantine, Mapping):
        details = _object(quarantine)
        error = _object(details.get("error"))
        check.state, check.verdict = "Quarantine", "QUARANTINED"
        check.reasons.append(
            f"the job is quarantined since {details.get('currentBegan') or '?'} (reason {details.get('reason') or '?'}"
            f"{': ' + str(error.get('message'))[:200] if error.get('message') else ''}): Entra stopped it. Fix the "
            "cause (the provisioning logs, provisioningLogsUrl, say it), then start the job: Provisioning > Start "
            "provisioning, or POST .../synchronization/jobs/{id}/start, which clears the quarantine")
    elif code == "paused" or scheduled in {"paused", "disabled"}:
        check.state, check.verdict = "Paused", "PAUSED"
        check.reasons.append("the job is paused (an operator's choice: the stack leaves it so); uploads are accepted "
                             "but not processed until it is started again")


def _judge_notifications(check: JobCheck, secrets: list[dict[str, Any]]) -> None:
    value = next((s.get("value") for s in secrets if str(s.get("key")).casefold() == NOTIFICATION_KEY.casefold()),
                 None)
    if value == "*":  # Graph masks a value it keeps secret: set, not readable here
        check.notifications = "set (not readable)"
        return
    try:
        settings = _object(json.loads(value)) if isinstance(value, str) else {}
    except ValueError:
        settings = {}
    recipients = [r for r in str(settings.get("Recipients") or "").replace(",", ";").split(";") if r.strip()]
    if settings.get("Enabled") is not True or not recipients:
        check.notifications = "none" if value is None else "disabled or empty"
        if check.verdict == "OK":
            check.verdict = "NO-NOTIFY"
        check.reasons.append(f"no notification email ({NOTIFICATION_KEY} is {check.notifications}): nobody hears of "
                             "a quarantine, and Entra quarantines a job started without one. Set it in the portal "
                             "(Provisioning > Settings > Notification Email) to the config's notificationEmail")
        return
    check.notifications = f"enabled, {len(recipients)} recipient{'s' if len(recipients) != 1 else ''}"
