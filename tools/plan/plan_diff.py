"""make plan-diff: who gains or loses which Graph permission and credential, base vs pull request.

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

from components.settings.problems import SettingsError
from components.stack_history import known_clients
from tools.plan.key_vault import left_behind
from tools.plan.markdown import GRANT, credential_cells, principal_cell
from tools.plan.plan import ROOT, run_stack_file
from tools.plan.renewal import NO_HISTORY, OUTPUTS_HELP, OutputsFileError, read_outputs_file, removals_in_use
from tools.stack.settings import settings_or_problems
from tools.stack.stack_file import StackFileError, read_stack_file


@dataclass(frozen=True)
class ClientAccess:
    """What one client can do, as the plan shows it."""

    kind: str
    principal: str
    permissions: frozenset[str]
    credential: str
    expires: str


@dataclass
class Access:
    """The access a stack file grants, or why it grants nothing."""

    clients: dict[str, ClientAccess] = field(default_factory=dict)
    protect: bool | None = None
    provisioning_app: str | None = None
    resources: frozenset[str] = frozenset()
    renewal: dict[str, Any] = field(default_factory=dict)
    """The planned ``clients`` output (its renewal ledgers), by client key."""
    error: str | None = None
    """Validation errors: the stack file would fail `pulumi up`."""
    missing: bool = False


def access_of(stack: str, stack_file: Path | None, now: dt.datetime,
              history: Mapping[str, Any] | None = None) -> Access:
    """Run this checkout's program on ``stack_file`` offline and collect who gets what; ``history`` is
    the last deploy's outputs (renewal decides from them; none: a new stack)."""
    if stack_file is None or not stack_file.exists():
        return Access(missing=True)
    try:
        # Read as the Pulumi CLI reads it, with a safe YAML 1.2 loader: the file is data, whatever tags it carries.
        data = read_stack_file(stack_file)
    except StackFileError as error:
        return Access(error=f"{stack_file.name} does not parse as a stack file: {error}")
    settings = settings_or_problems(stack, data, now)
    if isinstance(settings, SettingsError):
        return Access(error=str(settings))
    try:
        run = run_stack_file(stack, data, settings, now, history)
    except pulumi.RunError as error:
        return Access(error=str(error))
    clients: dict[str, ClientAccess] = {}
    for key, shown in run.outputs["clients"].items():
        credential, expires = credential_cells(settings, key, shown)
        clients[key] = ClientAccess(kind=str(shown["kind"]), principal=principal_cell(settings, key),
                                    permissions=frozenset(shown["graphPermissions"]),
                                    credential=credential, expires=expires)
    app = settings.provisioning_app
    return Access(
        clients=clients,
        protect=settings.protect,
        provisioning_app=None if app is None else f"{app.display_name or app.service_principal_id}, job {app.job_id}",
        # Grants are in the permissions table already.
        resources=frozenset(f"`{r.type}` `{r.name}`" for r in run.registrations
                            if r.custom and r.type != GRANT),
        renewal=dict(run.outputs["clients"]),
    )


def cell(text: str) -> str:
    """One Markdown table cell from text a pull request controls: no line breaks, no column
    separators, no HTML, no @-mentions."""
    flat = " ".join(str(text).split())
    return (flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("@", "@\u200b"))


def fenced(text: str) -> str:
    """A code block that no backtick run inside ``text`` can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}\n"


def _state(value: bool | None) -> str:
    return {True: "on", False: "off", None: "(none)"}[value]


def render(stack: str, base: Access, head: Access, code_commit: str, data_label: str, out: TextIO,
           history: Mapping[str, Any] | None = None, now: dt.datetime | None = None) -> bool:
    """Write the Markdown diff; return whether anything about access changed.

    ``history`` is the last deploy's ``clients`` output; without it, what the base branch's stack
    file would hand out stands in for it (so a change of credential form still shows as a removal)."""
    out.write(f"## Access diff: stack `{cell(stack)}`\n\n")
    out.write(f"Computed by this repository's code at commit `{cell(code_commit)}` (the base branch), from the "
              f"pull request's `Pulumi.{cell(stack)}.yaml` ({cell(data_label)}) read as data; the pull request's "
              "code did not run. Offline: nothing was read from a tenant.\n\n")
    if head.error is not None:
        out.write("**The pull request's stack file is refused by validation**; `pulumi up` would change "
                  "nothing:\n\n" + fenced(head.error))
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

    rows: list[str] = []
    for key in sorted(set(base.clients) | set(head.clients)):
        before, after = base.clients.get(key), head.clients.get(key)
        gained = (after.permissions if after else frozenset()) - (before.permissions if before else frozenset())
        lost = (before.permissions if before else frozenset()) - (after.permissions if after else frozenset())
        shown = after or before
        principal = cell(shown.principal) if shown is not None else ""
        rows += [f"| {cell(key)} | {principal} | **gains** | {cell(p)} |\n" for p in sorted(gained)]
        rows += [f"| {cell(key)} | {principal} | **loses** | {cell(p)} |\n" for p in sorted(lost)]
    credential_rows: list[str] = []
    for key in sorted(set(base.clients) | set(head.clients)):
        before, after = base.clients.get(key), head.clients.get(key)
        if before and after and (before.credential, before.expires) == (after.credential, after.expires):
            continue
        was = f"{before.credential} ({before.expires})" if before else "(none)"
        becomes = f"{after.credential} ({after.expires})" if after else "(removed)"
        credential_rows.append(f"| {cell(key)} | {cell(was)} | {cell(becomes)} |\n")

    changed = bool(rows or credential_rows)
    if rows:
        out.write("### Graph permissions\n\n| client | principal | change | Graph permission |\n|---|---|---|---|\n")
        out.write("".join(rows) + "\n")
    if credential_rows:
        out.write("### Credentials\n\n| client | before | after |\n|---|---|---|\n")
        out.write("".join(credential_rows) + "\n")
    changed = _render_renewal(base, head, history, now or dt.datetime.now(dt.UTC), out) or changed
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


def _render_renewal(base: Access, head: Access, history: Mapping[str, Any] | None, now: dt.datetime,
                    out: TextIO) -> bool:
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
    if rows:
        out.write("### Renewal\n\n" + ("" if history is not None else NO_HISTORY + "\n\n")
                  + "| client | base | pull request |\n|---|---|---|\n" + "".join(rows) + "\n")
    return bool(removals or rows)


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
  1  the pull request's stack file is refused by validation (the diff says why)
  2  usage: the stack cannot be told from the file name (pass --stack), or --outputs is unreadable
"""


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="make plan-diff PR=<file> [BASE=<file>] ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_STATUS)
    parser.add_argument("--base", type=Path, help="the base branch's stack file (absent: a new stack)")
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
    now = dt.datetime.now(dt.UTC)
    try:
        history = read_outputs_file(args.outputs) if args.outputs else None
    except OutputsFileError as error:
        err.write(f"error: {error}\n")
        return 2
    base = access_of(stack, args.base, now, history)
    head = access_of(stack, args.pr, now, history)
    render(stack, base, head, args.code_commit or code_commit_of(ROOT), args.data_label or str(args.pr), out,
           known_clients(history) if history is not None else None, now)
    return 1 if head.error is not None else 0


if __name__ == "__main__":
    sys.exit(main())
