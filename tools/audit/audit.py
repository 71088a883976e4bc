"""make audit: who can upload HR records into the tenant, and what gives the stack's clients access, undeclared.

Pulumi sees only the resources it manages. A secret added to a client's app registration in the
portal, an owner added to it, a role granted to its principal by hand, or another app granted
``SynchronizationData-User.Upload`` is invisible to ``pulumi preview`` and to the weekly run.
This reads them from Microsoft Graph, read-only, and reports every one the stack did not declare.
What the stack declared comes from its non-secret outputs and is classified by id only
(``tools/tenant/ownership.py``, shared with ``make adopt`` and ``make verify --deployer``).

Per client (``clients.py``): credentials on its app registration that are not the stack's (key id,
kind, end date, thumbprint or federation), any credential on its service principal, app roles
beyond its graphPermissions (any API), delegated grants, directory roles. The provisioning app,
created or named by the stack: any credential. Who can upload (``paths.py``): every principal with
a path to the upload, ranked by how direct it is: holders of the upload; app permissions, directory
roles (held, through a group, PIM-eligible) and owners one or two steps from it; delegated upload
grants. Principals in ``trustedPrincipals`` are listed as expected, never as findings.

Exit status:
  0  clean: everything checked is what the stack declared
  1  findings (listed)
  2  usage; outputs or stack file unreadable, or not this program's; sign-in failed; Graph unavailable
  3  nothing checked: the stack's outputs list no clients and no provisioning app
  4  incomplete: a read was refused ("not checked (needs <permission>)"); no findings in what was read
  5  the outputs predate credentialKeyIds/credentials (deploy once with this version); nothing else found
Nothing secret is read or printed: Graph returns credentials' metadata only; no hint, no token.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from azure.core.credentials import TokenCredential

from components.renewal import rfc3339
from components.settings.problems import Checker, SettingsError
from components.settings.trusted_principals import parse_trusted_principals
from tools.audit.clients import audit_client, audit_provisioning_app
from tools.audit.model import EXIT_NOTHING_CHECKED, EXIT_USAGE, Audit, Section
from tools.audit.orphans import mark_orphans
from tools.audit.paths import who_can_upload
from tools.audit.reads import AUDITOR_PERMISSIONS, Reads
from tools.audit.report import render_json, render_summary, render_text
from tools.cli import plain_help
from tools.stack.outputs import StackOutputError, pulumi_stack_export, pulumi_stack_output
from tools.stack.pending import PendingCreate, pending_creates
from tools.stack.stack_file import StackFileError, read_stack_file
from tools.tenant import ownership
from tools.tenant.graph_reader import GraphAccessError, GraphReader, Transport, deployer_credential
from tools.tenant.ownership import StackRecord
from tools.tenant.sign_in import show_sign_in_detail

ROOT = Path(__file__).resolve().parents[2]
PERMISSION_HINT = (f"make audit needs Microsoft Graph {', '.join(AUDITOR_PERMISSIONS)} (a pipeline's service "
                   "principal: those application permissions, admin-consented; a person: a directory role "
                   "that can read them, such as Global Reader)")
# What `pulumi stack output --json` prints for a secret output without --show-secrets.
SECRET_SHOWN = "[secret]"  # noqa: S105


def run_audit(stack: str, reader: GraphReader, record: StackRecord, declared: Declared, now: dt.datetime,
              sleep: Callable[[float], None], pending: Sequence[PendingCreate] = ()) -> Audit:
    """Every section, then who can upload, read through one :class:`Reads`; ``pending``: the creates a killed run
    left in the state, whose credentials are named orphans (``tools/audit/orphans.py``)."""
    reads = Reads(reader, sleep)
    graph_id, roles = reader.microsoft_graph()
    sections: dict[str, Section] = {}
    for client in record.clients.values():
        sections[f"client {client.key}"] = audit_client(reader, client, graph_id, roles, reads)
    mark_orphans(sections.values(), pending)
    if record.provisioning_app_principal_id:
        sections["provisioningApp"] = audit_provisioning_app(reads, record.provisioning_app_principal_id,
                                                             declared.creates_provisioning_app)
    section, paths = who_can_upload(reads, record, graph_id, roles, sections, declared.trusted)
    generated = rfc3339(now)
    return Audit(stack, record.tenant_id, generated, [*sections.values(), section], paths)


def read_outputs(stack: str, outputs_file: Path | None) -> Any:
    """The stack's outputs, non-secret: from a file of ``pulumi stack output --json`` or from the CLI.

    Whether they are this program's is :func:`tools.tenant.ownership.stack_record`'s check, shared with
    adopt; outputs holding a decrypted secret are refused here: the audit needs none, and must not pass
    one on (its report goes to a job summary).
    """
    outputs = json.loads(outputs_file.read_text()) if outputs_file is not None else pulumi_stack_output(stack)
    if isinstance(outputs, dict) and outputs.get("clientCredentials", SECRET_SHOWN) not in (SECRET_SHOWN, {}):
        raise ValueError("they hold clientCredentials decrypted (`--show-secrets`): give them without it, the "
                         "audit needs no secret")
    return outputs


@dataclass(frozen=True)
class Declared:
    """The two things the audit reads from the stack file: who is trusted, and whether it creates its app."""

    trusted: frozenset[str] = frozenset()
    creates_provisioning_app: bool = False


def read_declared(stack_file: Path) -> Declared:
    """``trustedPrincipals`` (validated as the program validates it) and ``provisioningApp.create``, read as
    the Pulumi CLI reads the stack file (``tools/stack/stack_file.py``: every spelling of the keys counts)."""
    if not stack_file.exists():
        return Declared()
    raw = read_stack_file(stack_file).raw
    check = Checker(dt.datetime.now(dt.UTC), frozenset())
    trusted = parse_trusted_principals(check, raw.get("trustedPrincipals"))
    if check.problems:
        raise SettingsError(stack_file.stem.removeprefix("Pulumi."), check.problems)
    app = raw.get("provisioningApp")
    return Declared(frozenset(trusted), isinstance(app, dict) and "create" in app)


def main(argv: Sequence[str] | None = None, *, credential: TokenCredential | None = None,
         transport: Transport | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
         sleep: Callable[[float], None] | None = None, now: dt.datetime | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make audit STACK=<stack> ARGS=...", description=plain_help(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--outputs", type=Path, metavar="FILE",
                        help="a file of `pulumi stack output --json` (no secrets: never --show-secrets)")
    parser.add_argument("--config-file", type=Path, help="default: Pulumi.<stack>.yaml beside Pulumi.yaml")
    parser.add_argument("--state", type=Path, metavar="FILE",
                        help="a `pulumi stack export` file: credentials an interrupted run left are named orphans "
                             "(default: from the CLI, unless --outputs is given)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--summary", type=Path, metavar="FILE",
                        help="also append the diagram and the report as Markdown to FILE ($GITHUB_STEP_SUMMARY)")
    parser.add_argument("--debug", action="store_true", help="on a failed sign-in, what each sign-in method answered")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 0 if exit_.code == 0 else EXIT_USAGE
    show_sign_in_detail(args.debug)
    stack_file: Path = args.config_file or ROOT / f"Pulumi.{args.stack}.yaml"
    try:
        record = ownership.stack_record(read_outputs(args.stack, args.outputs))
    except (OSError, ValueError, StackOutputError, ownership.OutputsError) as error:
        hint = ("; give them with --outputs FILE (`pulumi stack output --stack <stack> --json`, no secrets needed)"
                if args.outputs is None else "")
        err.write(f"error: cannot read the stack's outputs: {error}{hint}\n")
        return EXIT_USAGE
    try:
        state = (json.loads(args.state.read_text()) if args.state is not None
                 else pulumi_stack_export(args.stack) if args.outputs is None else {})
    except (OSError, ValueError, StackOutputError) as error:
        err.write(f"error: cannot read the stack's state: {error}; give it with --state FILE (`pulumi stack "
                  "export`)\n")
        return EXIT_USAGE
    try:
        declared = read_declared(stack_file)
    except (OSError, ValueError, StackFileError) as error:
        err.write(f"error: cannot read {stack_file.name}: {error}\n")
        return EXIT_USAGE
    except SettingsError as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE
    if not record.clients and not record.provisioning_app_principal_id:
        err.write(f"nothing checked: the outputs of stack {args.stack!r} list no clients and no provisioning app "
                  "(not deployed yet?)\n")
        return EXIT_NOTHING_CHECKED
    try:
        reader = GraphReader(credential or deployer_credential(), transport, permission_hint=PERMISSION_HINT,
                             **({"sleep": sleep} if sleep else {}))
        result = run_audit(args.stack, reader, record, declared, now or dt.datetime.now(dt.UTC), sleep or time.sleep,
                           pending_creates(state))
    except GraphAccessError as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE
    report = result.as_dict()
    text = io.StringIO()
    render_text(report, text)
    if args.json:
        render_json(report, out)
    else:
        out.write(text.getvalue())
    if args.summary is not None:
        with args.summary.open("a") as summary:
            render_summary(report, text.getvalue(), summary)
    return result.exit_status()


if __name__ == "__main__":
    sys.exit(main())
