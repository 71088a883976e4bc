"""make plan-diff: who gains or loses which access and credential, base vs pull request.

Both stack files are *data*: each is read with a safe YAML loader, validated, and run through
this checkout's program under Pulumi's mock engine (the same machinery as ``make plan``).  In the
pipeline this checkout is the base branch, so the pull request's code never runs; only its
``Pulumi.<stack>.yaml`` is read.  The output says which commit of code produced it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pulumi

from components.settings.model import ProvisioningAppSettings
from components.settings.problems import SettingsError
from components.stack_history import known_clients
from tools.cli import plain_help
from tools.plan.access import ACCESS_TYPES, Access, access_of
from tools.plan.cells import cell, code_cell, fenced
from tools.plan.credentials import credential_cells
from tools.plan.key_vault import left_behind
from tools.plan.plan import ROOT, run_stack_file
from tools.plan.renewal import NO_HISTORY, OUTPUTS_HELP, OutputsFileError, read_outputs_file, removals_in_use
from tools.plan.timeline import Timeline, gantt, timelines
from tools.stack.settings import settings_or_problems
from tools.stack.stack_file import StackFileError, read_stack_file


@dataclass
class StackAccess:
    """The access a stack file grants, or why it grants nothing."""

    access: list[Access] = field(default_factory=list)
    """Who can do what (``tools/plan/access.py``)."""
    credentials: dict[str, str] = field(default_factory=dict)
    """Each client's credential, expiry and renewal, as one cell."""
    protect: bool | None = None
    provisioning_app: str | None = None
    resources: frozenset[str] = frozenset()
    renewal: dict[str, Any] = field(default_factory=dict)
    """The planned ``clients`` output (its renewal ledgers), by client key."""
    timelines: dict[str, Timeline] = field(default_factory=dict)
    """Each renewing client's credentials on the calendar (``tools/plan/timeline.py``)."""
    error: str | None = None
    """Validation errors: the stack file would fail `pulumi up`."""
    missing: bool = False


def app_text(app: ProvisioningAppSettings | None) -> str | None:
    """The provisioning app the clients upload to, in words (None: none)."""
    if app is None:
        return None
    if app.create is not None:
        return (f"created by the stack: {app.create.display_name} (target {app.create.target}, notices to "
                f"{app.create.notification_email})")
    return f"{app.display_name or app.service_principal_id}, job {app.job_id}"


def stack_access(stack: str, stack_file: Path | None, now: dt.datetime,
                 history: Mapping[str, Any] | None = None) -> StackAccess:
    """Run this checkout's program on ``stack_file`` offline and collect who gets what; ``history`` is
    the last deploy's outputs (renewal decides from them; none: a new stack)."""
    if stack_file is None or not stack_file.exists():
        return StackAccess(missing=True)
    try:
        # Read as the Pulumi CLI reads it, with a safe YAML 1.2 loader: the file is data, whatever tags it carries.
        data = read_stack_file(stack_file)
    except StackFileError as error:
        return StackAccess(error=f"{stack_file.name} does not parse as a stack file: {error}")
    settings = settings_or_problems(stack, data, now)
    if isinstance(settings, SettingsError):
        return StackAccess(error=str(settings))
    try:
        run = run_stack_file(stack, data, settings, now, history)
    except pulumi.RunError as error:
        return StackAccess(error=str(error))
    clients = run.outputs["clients"]
    return StackAccess(
        access=access_of(settings, run),
        credentials={key: str(credential_cells(settings, key, shown)) for key, shown in clients.items()},
        protect=settings.protect,
        provisioning_app=app_text(settings.provisioning_app),
        # Grants, owners and readers' role assignments are in the access table already.
        resources=frozenset(f"`{r.type}` `{r.name}`" for r in run.registrations
                            if r.custom and r.type not in ACCESS_TYPES),
        renewal=dict(clients),
        timelines=timelines(settings, clients, known_clients(history) if history is not None else None),
    )


def _state(value: bool | None) -> str:
    return {True: "on", False: "off", None: "(none)"}[value]


def access_rows(base: StackAccess, head: StackAccess) -> list[str]:
    """Who gains and who loses which access, by who."""
    before = {(a.who, a.what): a for a in base.access}
    after = {(a.who, a.what): a for a in head.access}
    rows = []
    for who in sorted({a.who for a in [*base.access, *head.access]}):
        for change, mine, other in (("gains", after, before), ("loses", before, after)):
            rows += [f"| {cell(a.who)} | {cell(a.principal)} | **{change}** | {cell(a.what)} |\n"
                     for key, a in mine.items() if key[0] == who and key not in other]
    return rows


def render(stack: str, base: StackAccess, head: StackAccess, code_commit: str, data_label: str, out: TextIO,
           history: Mapping[str, Any] | None = None, now: dt.datetime | None = None) -> bool:
    """Write the Markdown diff; return whether anything about access changed.

    ``history`` is the last deploy's ``clients`` output; without it, what the base branch's stack
    file would hand out stands in for it (so a change of credential form still shows as a removal)."""
    out.write(f"## Access diff: stack `{code_cell(stack)}`\n\n")
    out.write(f"Computed by this repository's code at commit `{code_cell(code_commit)}` (the base branch), from the "
              f"pull request's `Pulumi.{code_cell(stack)}.yaml` ({cell(data_label)}) read as data; the pull request's "
              "code did not run. Offline: nothing was read from a tenant.\n\n")
    if head.error is not None:
        out.write("**`pulumi up` would stop on the pull request's stack file before changing anything** "
                  "(its config is refused, or the last deploy's record cannot be read):\n\n" + fenced(head.error))
        return True
    if base.error is not None:
        out.write("The base branch's stack file does not validate; showing the pull request's access as new.\n\n"
                  + fenced(base.error) + "\n")
    if head.missing and base.missing:
        out.write("Neither side has this stack.\n")
        return False
    if head.missing:
        out.write("**The pull request deletes this stack file**: the pipeline stops deploying it; what is "
                  "deployed stays until the stack is destroyed (`pulumi destroy`, by hand).\n")
        return True
    elif base.missing:
        out.write("**New stack**: everything below is gained.\n\n")

    rows = access_rows(base, head)
    credential_rows = [f"| {cell(key)} | {cell(base.credentials.get(key, '(none)'))} | "
                       f"{cell(head.credentials.get(key, '(removed)'))} |\n"
                       for key in sorted(set(base.credentials) | set(head.credentials))
                       if base.credentials.get(key) != head.credentials.get(key)]
    changed = bool(rows or credential_rows)
    if rows:
        out.write("### Access\n\nWho gains or loses what: Graph permissions, reading a client's credential (which "
                  "lets one sign in as that client), owning the provisioning app, being trusted by `make audit`.\n\n"
                  "| who | principal | change | access |\n|---|---|---|---|\n")
        out.write("".join(rows) + "\n")
    if credential_rows:
        out.write("### Credentials\n\n| client | before | after |\n|---|---|---|\n")
        out.write("".join(credential_rows) + "\n")
    changed = _render_renewal(stack, base, head, history, now or dt.datetime.now(dt.UTC), out) or changed
    other: list[str] = []
    if base.protect != head.protect and not head.missing:
        other.append(f"- `protect`: {_state(base.protect)} → **{_state(head.protect)}**\n")
    if base.provisioning_app != head.provisioning_app and not head.missing:
        other.append(f"- provisioning app: {cell(base.provisioning_app or '(none)')} → "
                     f"**{cell(head.provisioning_app or '(none)')}**\n")
    other += [f"- **Key Vault secret left behind**: {cell(b.sentence())}\n"
              for b in left_behind(base.renewal if history is None else history, head.renewal)]
    added, removed = sorted(head.resources - base.resources), sorted(base.resources - head.resources)
    other += [f"- resource added: {r}\n" for r in added] + [f"- resource removed: {r}\n" for r in removed]
    if other:
        changed = True
        out.write("### Other changes\n\n" + "".join(other) + "\n")
    if not changed:
        out.write("No change to who can do what.\n")
    return changed


def _renewal_cell(client: Mapping[str, Any] | None) -> str:
    ledger = (client or {}).get("renewal")
    if not isinstance(ledger, Mapping):
        return "(none)"
    handed, superseded = ledger["handedOut"], ledger.get("superseded")
    text = f"hands out {handed['generation']} (ends {str(handed.get('endDate') or '?')[:10]})"
    if superseded:
        text += f"; keeps {superseded['generation']} until {str(superseded['keptUntil'])[:10]}"
    return text


def _render_renewal(stack: str, base: StackAccess, head: StackAccess, history: Mapping[str, Any] | None,
                    now: dt.datetime, out: TextIO) -> bool:
    """Renewal: what each side hands out and keeps; any credential in use the pull request would remove, loudly."""
    removals = removals_in_use(base.renewal if history is None else history, head.renewal, now)
    if removals:
        out.write("### WARNING: credentials in use would be removed\n\n")
        out.write("".join(f"- **{cell(r.client)}**: {cell(r.generation or '(from before renewal)')} ({cell(r.role)}) "
                          "is removed; a consumer still using it is cut off\n" for r in removals) + "\n")
    rows = [f"| {cell(key)} | {cell(_renewal_cell(base.renewal.get(key)))} | "
            f"{cell(_renewal_cell(head.renewal.get(key)))} |\n"
            for key in sorted(set(base.renewal) | set(head.renewal))
            if _renewal_cell(base.renewal.get(key)) != _renewal_cell(head.renewal.get(key))]
    # Each client whose timeline differs, its base and its pull request on one time axis.
    sections = [(f"{key} {side}", drawn[key]) for key in sorted(set(base.timelines) | set(head.timelines))
                if base.timelines.get(key) != head.timelines.get(key)
                for side, drawn in (("base", base.timelines), ("pull request", head.timelines)) if key in drawn]
    if rows or sections:
        out.write("### Renewal\n\n" + ("" if history is not None else NO_HISTORY + "\n\n"))
        if sections:
            out.write("Each changed client's credentials, the base branch's and the pull request's, on one "
                      "calendar:\n\n" + gantt(f"Credentials of stack {stack}, base and pull request", now.date(),
                                                 sections) + "\n")
        if rows:
            out.write("| client | base | pull request |\n|---|---|---|\n" + "".join(rows) + "\n")
    return bool(removals or rows or sections)


def code_commit_of(root: Path) -> str:
    """The commit of the code that computes the diff (this checkout's HEAD)."""
    try:
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],  # noqa: S603, S607 (fixed argv)
                                capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return result.stdout.strip()


EXIT_STATUS = """exit status:
  0  the diff was printed
  1  pulumi up would stop on the pull request's stack file: its config is refused, or the
     last deploy's record (--outputs) cannot be read (the diff says why)
  2  usage: the stack cannot be told from the file name (pass --stack); no base to compare with (this
     checkout has no Pulumi.<stack>.yaml: --new-stack, or --base FILE); --outputs is unreadable
"""


def base_file(stack: str, given: Path | None, new_stack: bool) -> Path | str | None:
    """The base stack file: given, or this checkout's ``Pulumi.<stack>.yaml``; None for a new stack; an error
    (text) for a defaulted base that does not exist, which would silently compare against an empty stack."""
    path = given or ROOT / f"Pulumi.{stack}.yaml"
    if new_stack:
        return (f"--new-stack, but {path} exists: {stack} is not a new stack" if path.exists() else None)
    if given is None and not path.exists():
        return (f"no base to compare with: this checkout has no Pulumi.{stack}.yaml. If {stack} is a new stack, "
                "say so with --new-stack (everything is then gained); else give the base with --base FILE "
                "(make: BASE=FILE) or the right --stack")
    return path


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="make plan-diff PR=<file> [BASE=<file>] ARGS=...",
                                     description=plain_help(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_STATUS)
    parser.add_argument("--base", type=Path, help="the base branch's stack file (default: this checkout's "
                        "Pulumi.<stack>.yaml; a --base that does not exist is a new stack)")
    parser.add_argument("--new-stack", action="store_true", help="the stack is new: nothing to compare with, "
                        "everything is gained")
    parser.add_argument("--pr", type=Path, required=True, help="the pull request's stack file (absent: deleted)")
    parser.add_argument("--stack", help="default: <stack> of the file name Pulumi.<stack>.yaml")
    parser.add_argument("--code-commit", help="default: this checkout's HEAD")
    parser.add_argument("--data-label", help="where the pull request's file came from (default: the --pr path)")
    parser.add_argument("--outputs", type=Path, help=OUTPUTS_HELP)
    args = parser.parse_args(argv)
    named = re.fullmatch(r"Pulumi\.(.+)\.yaml", args.pr.name)
    stack = args.stack or (named[1] if named else None)
    if not stack:
        err.write(f"error: cannot tell the stack from {args.pr.name}; pass --stack\n")
        return 2
    base_path = base_file(stack, args.base, args.new_stack)
    if isinstance(base_path, str):
        err.write(f"error: {base_path}\n")
        return 2
    now = dt.datetime.now(dt.UTC)
    try:
        history = read_outputs_file(args.outputs) if args.outputs else None
    except OutputsFileError as error:
        err.write(f"error: {error}\n")
        return 2
    base = stack_access(stack, base_path, now, history)
    head = stack_access(stack, args.pr, now, history)
    render(stack, base, head, args.code_commit or code_commit_of(ROOT), args.data_label or str(args.pr), out,
           known_clients(history) if history is not None else None, now)
    return 1 if head.error is not None else 0


if __name__ == "__main__":
    sys.exit(main())
