"""make adopt: find what the tutorial (or the portal) already made, and print the `adopt` block.

Reads the tenant as the deployer, read-only (``tools/tenant/graph_reader.py``). For each client in
``Pulumi.<stack>.yaml`` it finds the app registration and service principal (servicePrincipal
clients: by ``--app KEY=<display name | client id | object id>``, else by the client's display
name) or the existing managed identity (by its ``existing`` lookup), the Microsoft Graph app
role assignments the principal holds, and the credentials already on the app. It prints the
``adopt`` block to paste (or writes it into the stack file with ``--write``), then what the
team must do afterwards: old secrets to retire, owners, grants beyond the allow-list, and what
the deploy changes on an adopted app registration.

What the stack already made is told apart by id, never by name (``tools/tenant/ownership.py``, from the
stack's non-secret outputs, as ``make audit`` does): its credentials are never "to retire". For
a client the stack has deployed it runs the audit's checks and proposes adopting what they find
where that applies (an allow-listed permission granted by hand: declare it, adopt its grant).

Exit status: 0 done; 1 a client needs a choice (several matches, a named app not found, bad
config); 2 sign-in or permission problem (the missing Graph permission is named), a stack file
that cannot be read (file and line named, as make plan names them), the stack's outputs unreadable
(``--outputs FILE`` gives them without the CLI; a never-deployed stack needs neither) or bad usage. It never
prints a secret: not a secret's text, not its hint, not a token.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml
from azure.core.credentials import TokenCredential

from components.settings.problems import SettingsError
from components.settings.stack_config import NAMESPACE
from tools.adopt.find import Finding, find
from tools.adopt.write import WriteError, write_stack_file
from tools.cli import plain_help
from tools.stack.outputs import StackOutputError, never_deployed_here, pulumi_stack_output
from tools.stack.settings import settings_or_problems
from tools.stack.stack_file import StackFileError, read_stack_file
from tools.tenant import ownership
from tools.tenant.graph_reader import GraphAccessError, GraphReader, Transport, deployer_credential
from tools.tenant.ownership import StackRecord
from tools.tenant.sign_in import show_sign_in_detail

ROOT = Path(__file__).resolve().parents[2]
EXIT_OK, EXIT_CHOICE, EXIT_ACCESS = 0, 1, 2


IMPORT_NOTE = """
## How the deploy imports

`make preview` shows adopted objects as imports (`=`). Where the program's inputs differ from an
imported object (the changes listed above), Pulumi CLIs with the import-then-update engine
(pulumi/pulumi#19339) import it and update it in the same run; older CLIs stop instead with
"inputs to import do not match the existing resource" and change nothing. Keep the adopt block
in the stack file: on later runs an import of an object already in the stack is a no-op.
"""


def adopt_blocks(findings: Sequence[Finding]) -> dict[str, dict[str, Any]]:
    return {f.key: {"adopt": f.adopt} for f in findings if f.adopt}


def render(stack: str, stack_file: Path, findings: Sequence[Finding], out: TextIO) -> None:
    out.write(f"# make adopt: stack `{stack}` ({stack_file.name}); read from the tenant, nothing changed\n\n")
    blocks = adopt_blocks(findings)
    if blocks:
        out.write(f"Paste under `{NAMESPACE}:clients:` in {stack_file.name} (merge into each client), "
                  "or run again with --write:\n\n```yaml\n")
        out.write(yaml.safe_dump(blocks, sort_keys=False, default_flow_style=False))
        out.write("```\n")
    elif any(f.needs_choice for f in findings):
        out.write("No adopt block yet: a client needs a choice (below); run again after making it.\n")
    else:
        out.write("Nothing to adopt: nothing the stack would create exists already.\n")
    for finding in findings:
        out.write(f"\n## {finding.title}\n\n")
        out.write("".join(f"- {note}\n" for note in finding.notes) or "- nothing else to do\n")
    if blocks:
        out.write(IMPORT_NOTE)


# -- command line ------------------------------------------------------------------------------------------


def _app_arg(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError("expected CLIENT=<display name | client id | object id>")
    return key, value


def _stack_record(stack: str, outputs_file: Path | None, new_stack: bool) -> StackRecord:
    """What the stack made, from its outputs; a stack never deployed (unknown to the backend) made nothing."""
    if outputs_file is not None:
        return ownership.stack_record(json.loads(outputs_file.read_text()))
    try:
        return ownership.stack_record({} if new_stack else pulumi_stack_output(stack))
    except StackOutputError as error:
        if "no stack named" in str(error) or never_deployed_here(stack):
            return ownership.stack_record({})
        raise


def main(argv: Sequence[str] | None = None, *, credential: TokenCredential | None = None,
         transport: Transport | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
         now: dt.datetime | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make adopt STACK=<stack> ARGS=...", description=plain_help(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--config-file", type=Path, help="default: Pulumi.<stack>.yaml beside Pulumi.yaml")
    parser.add_argument("--app", type=_app_arg, action="append", default=[], metavar="CLIENT=NAME_OR_ID",
                        help="the app registration of a servicePrincipal client, by display name, client id or "
                             "object id (default: the client's displayName)")
    parser.add_argument("--write", action="store_true", help="write the adopt blocks into the stack file")
    parser.add_argument("--outputs", type=Path, metavar="FILE",
                        help="the stack's `pulumi stack output --json` (no secrets needed) instead of the Pulumi CLI")
    parser.add_argument("--new-stack", action="store_true", help="never deployed: no outputs to read (needed only "
                        "without the CLI and with PULUMI_BACKEND_URL set; else .pulumi-state/ tells)")
    parser.add_argument("--debug", action="store_true", help="on a failed sign-in, what each sign-in method answered")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code == 0 else EXIT_ACCESS
    show_sign_in_detail(args.debug)
    now = now or dt.datetime.now(dt.UTC)
    path: Path = args.config_file or ROOT / f"Pulumi.{args.stack}.yaml"
    if not path.exists():
        err.write(f"error: {path} does not exist\n")
        return EXIT_ACCESS
    try:
        settings = settings_or_problems(args.stack, read_stack_file(path), now)
    except StackFileError as error:  # read as the Pulumi CLI reads it: file and line named
        err.write(f"error: {error}\n")
        return EXIT_ACCESS
    if isinstance(settings, SettingsError):
        err.write(f"{settings}\n")
        return EXIT_CHOICE
    apps = dict(args.app)
    unknown = sorted(set(apps) - set(settings.clients))
    if unknown:
        err.write(f"error: --app names clients that are not in {path.name}: {', '.join(unknown)}\n")
        return EXIT_CHOICE
    try:
        record = _stack_record(args.stack, args.outputs, args.new_stack)
    except (OSError, ValueError, StackOutputError, ownership.OutputsError) as error:
        err.write(f"error: cannot read the stack's outputs ({error}); make adopt tells the stack's own credentials "
                  "by their key ids: give --outputs FILE (`pulumi stack output --json`), or --new-stack if new\n")
        return EXIT_ACCESS
    try:
        reader = GraphReader(credential or deployer_credential(), transport)
        findings = find(reader, settings, apps, now, record)
    except GraphAccessError as error:
        err.write(f"error: {error}\n")
        return EXIT_ACCESS
    render(args.stack, path, findings, out)
    if args.write and adopt_blocks(findings):
        try:
            write_stack_file(path, adopt_blocks(findings))
        except WriteError as error:
            err.write(f"error: {path.name} was not changed ({error}); paste the block above by hand\n")
            return EXIT_CHOICE
        out.write(f"\nWrote the adopt blocks into {path.name}. Next: make plan STACK={args.stack}, "
                  f"then make preview STACK={args.stack} (imports show as `=`).\n")
    return EXIT_CHOICE if any(f.needs_choice for f in findings) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
