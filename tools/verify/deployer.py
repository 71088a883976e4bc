"""make verify --deployer: each principal's grants as Graph records them, read by the deployer; and the job.

For identities that cannot run ``make verify`` themselves (the tutorial's Logic App runs no
Python; a federated workload signs in elsewhere), the deployer reads every client's app role
assignments on Microsoft Graph (the same reader as ``make adopt``) and compares them with the
permissions the stack granted. This proves the grants exist; it does not prove a token carries
them yet (a managed identity's token is cached by Azure for up to 24 hours). What is the stack's
own grant and what is not is decided as ``make audit`` decides it (``tools/tenant/ownership.py``). With a
provisioning app in the outputs, its job's state and notification settings too (``tools/verify/job.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from tools.tenant import ownership
from tools.tenant.graph_reader import GraphReader, ObjectGoneError
from tools.tenant.ownership import StackClient
from tools.tenant.tables import render_table
from tools.verify.job import JobCheck, check_job

EXIT_OK, EXIT_MISMATCH = 0, 1


@dataclass
class GrantCheck:
    """The verdict for one client's principal."""

    key: str
    principal: str
    expected: list[str]
    granted: list[str] = field(default_factory=list)
    verdict: str = "OK"
    reasons: list[str] = field(default_factory=list)


def check_grants(client: StackClient, reader: GraphReader) -> GrantCheck:
    """The principal's app role assignments, told own from not as make audit tells them (tools/tenant/ownership.py)."""
    check = GrantCheck(client.key, client.principal_id, sorted(client.graph_permissions))
    graph_id, roles = reader.microsoft_graph()
    extra: list[str] = []
    try:
        assignments = reader.app_role_assignments(client.principal_id)
    except ObjectGoneError:
        check.verdict = "MISMATCH"
        check.reasons.append("the principal is gone (deleted, or not replicated yet): `make preview` shows what "
                             "the deploy recreates")
        return check
    for assignment in assignments:
        permission = roles.get(assignment.app_role_id) if assignment.resource_id == graph_id else None
        if ownership.app_role(client, assignment.resource_id, graph_id, permission) == ownership.OWN:
            check.granted.append(str(permission))
        elif permission is not None:
            extra.append(f"{permission} (assignment {assignment.id})")
        else:
            check.reasons.append(f"note: {assignment.resource_display_name or assignment.resource_id}: app role "
                                 f"{assignment.app_role_id} (another API; not checked here, make audit reports it)")
    check.granted.sort()
    missing = sorted(set(check.expected) - set(check.granted))
    if missing:
        check.verdict = "MISMATCH"
        check.reasons.insert(0, f"missing {', '.join(missing)}: not granted; run `make up`")
    if extra:
        check.verdict = "MISMATCH"
        check.reasons.insert(len(missing) > 0, f"extra {', '.join(sorted(extra))}: granted outside this stack "
                             "(portal or script); remove it for least privilege, or add it to graphPermissions")
    return check


def render(checks: Sequence[GrantCheck], out: TextIO) -> None:
    rows = [[c.key, c.principal, ", ".join(c.expected), ", ".join(c.granted) or "(none)", c.verdict] for c in checks]
    render_table(["client", "principal", "expected roles", "granted on Graph", "verdict"], rows,
                 [(c.key, reason) for c in checks for reason in c.reasons], out)


def render_job(check: JobCheck, out: TextIO) -> None:
    render_table(["provisioning job", "service principal", "state", "notifications", "verdict"],
                 [[check.job_id, check.service_principal_id, check.state, check.notifications, check.verdict]],
                 [("job", reason) for reason in check.reasons], out)


def run(clients: Mapping[str, Mapping[str, Any]], selected: Sequence[str], reader: GraphReader,
        out: TextIO, job: tuple[str, str] | None = None) -> int:
    """Check the selected clients and, when the outputs name one, the provisioning ``job`` (service principal,
    job id: tools/verify/job.py); raises ``GraphAccessError`` on sign-in or permission problems."""
    record = ownership.stack_record({"clients": clients})
    checks = [check_grants(record.clients[key], reader) for key in selected]
    render(checks, out)
    failed = any(c.verdict != "OK" for c in checks)
    if job is not None:
        job_check = check_job(*job, reader)
        out.write("\n")
        render_job(job_check, out)
        failed = failed or job_check.failed
    return EXIT_MISMATCH if failed else EXIT_OK
