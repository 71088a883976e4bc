"""make plan: the offline access plan of a stack, as Markdown.

Runs this same program (``__main__.py``) under Pulumi's mock engine with the stack's
``Pulumi.<stack>.yaml``: no Pulumi CLI, no credentials, no network.  It prints who gets
which Graph permission with which credential and expiry, and every resource the stack
would manage.  Nothing in it is read from a tenant: principals that already exist are
named as configured, and role ids are Microsoft's published ids (labelled "planned");
``pulumi up`` resolves them by value from Graph's service principal in the tenant.

With ``--outputs`` (the last deploy's ``pulumi stack output --json``) the plan is of the next deploy of
that stack; with ``--history`` (``pulumi stack history --json``) it also says when the stack was last
deployed, as the expiry check does (``tools/stack/history.py``).

The stack file is read the way the Pulumi CLI reads it (``read_stack_file``), so the plan
accepts and refuses what ``pulumi up`` would; every value in the Markdown is escaped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import pulumi

from components.settings.model import Settings
from components.settings.problems import Problem, SettingsError
from components.stack_history import HistoryUnreadable, known_clients
from tools.cli import plain_help
from tools.offline.entra import OfflineEntra, published_graph_roles
from tools.offline.run import ProgramRun, program_at, run_main, run_offline
from tools.plan.markdown import render
from tools.plan.renewal import OUTPUTS_HELP, OutputsFileError, read_outputs_file
from tools.stack.history import MAX_DEPLOY_AGE_DAYS, HistoryError, Update, deploy_age, describe, read_updates
from tools.stack.settings import settings_or_problems
from tools.stack.stack_file import StackFile, StackFileError, read_stack_file, shown_path

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER_TENANT = "00000000-0000-0000-0000-000000000000"

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_CODES = f"""\
exit status:
  {EXIT_OK}  the plan was printed
  {EXIT_INVALID}  the configuration is invalid: the error list names every problem by key path; or, with
     --outputs, the next deploy would stop: the renewal record in them cannot be read (the error says why)
  {EXIT_UNREADABLE}  the stack file cannot be read as Pulumi reads it (missing, not UTF-8, a YAML error such
     as tab indentation, an unclosed bracket or a duplicate key, not a mapping with a config: map),
     or bad arguments; the error names the file and line
  {EXIT_INTERNAL}  a bug in make plan itself; run again with --debug for the traceback
"""


HISTORY_HELP = ("the stack's update history, as `pulumi stack history --stack <stack> --json` writes it: the plan "
                "then says when the stack was last deployed, and warns (STALE) when deploys have stopped")


def read_history_file(path: Path) -> list[Update]:
    """The updates of a ``pulumi stack history --json`` file, newest first; kind and result kept to plain words
    (they are printed as they are)."""
    try:
        updates = read_updates(json.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, HistoryError) as error:
        raise OutputsFileError(f"cannot read the stack's history {shown_path(path)}: {error}") from None
    return [Update(re.sub(r"[^a-z-]", "", u.kind.lower())[:20] or "?", re.sub(r"[^a-z-]", "", u.result.lower())[:20]
                   or "?", u.started) for u in updates]


def render_last_deployed(updates: Sequence[Update], now: dt.datetime, out: TextIO) -> None:
    """The expiry check's "Last deployed" lines (``tools/stack/history.py``), as a section of the plan."""
    lines = describe(deploy_age(updates), now, MAX_DEPLOY_AGE_DAYS).splitlines()
    out.write("\n## Last deployed\n\n" + "".join(
        f"- **{line.split(': ', 1)[0]}**: {line.split(': ', 1)[1]}\n" if line.startswith("STALE: ") else f"- {line}\n"
        for line in lines))


def plan(stack: str, stack_file_path: Path, out: TextIO, err: TextIO, outputs_path: Path | None = None,
         history_path: Path | None = None, now: dt.datetime | None = None) -> int:
    """Print the access plan of one stack file; return the exit status (see ``EXIT_CODES``).

    ``outputs_path``: the last deploy's outputs (``pulumi stack output --json``), so the plan is of
    the next deploy of that stack (renewal decides from them); without it, of a new stack.
    ``history_path``: the stack's ``pulumi stack history --json``, for when it was last deployed.
    ``now``: plan as of that moment, the program's clock included (the docs' timelines); default: now."""
    history: dict[str, Any] | None = None
    updates: list[Update] | None = None
    try:
        if outputs_path is not None:
            history = read_outputs_file(outputs_path)
        if history_path is not None:
            updates = read_history_file(history_path)
    except OutputsFileError as error:
        err.write(f"error: {error}\n")
        return EXIT_UNREADABLE
    if not stack_file_path.exists():
        found = sorted(p.name[len("Pulumi."):-len(".yaml")]
                       for p in stack_file_path.parent.glob("Pulumi.*.yaml"))
        here = f"; the stacks beside it: {', '.join(found)}" if found else ""
        err.write(f"error: {shown_path(stack_file_path)} does not exist{here}\n")
        return EXIT_UNREADABLE
    try:
        stack_file = read_stack_file(stack_file_path)
    except StackFileError as error:
        err.write(f"error: {error}\n")
        return EXIT_UNREADABLE
    program = program_at(now) if now is not None else run_main
    now = now or dt.datetime.now(dt.UTC)
    settings = settings_or_problems(stack, stack_file, now)
    if isinstance(settings, SettingsError):
        err.write(f"{settings}\n")
        return EXIT_INVALID
    try:
        run = run_stack_file(stack, stack_file, settings, now, history, program)
    except HistoryUnreadable as error:  # the outputs given hold a renewal record the program cannot read
        err.write(f"The next `pulumi up` of this stack would stop before changing anything: {error}\n")
        return EXIT_INVALID
    except pulumi.RunError as error:  # SettingsError, or a lookup the program refuses
        err.write(f"{error}\n")
        return EXIT_INVALID
    render(stack, stack_file_path, settings, run, out, known_clients(history) if history is not None else None, now)
    if updates is not None:
        render_last_deployed(updates, now, out)
    return EXIT_OK


def run_stack_file(stack: str, stack_file: StackFile, settings: Settings, now: dt.datetime,
                   history: Mapping[str, Any] | None = None, program: Callable[[], None] = run_main) -> ProgramRun:
    """Run the program offline on a validated stack file, fed the very strings the CLI would hand it;
    its read of its own outputs answers ``history`` (the last deploy's outputs; none: a new stack)."""
    # Offline there is no tenant: assume the one the provisioning job names, if any.
    tenant = (settings.provisioning_app.job_tenant_id if settings.provisioning_app is not None
              else "") or PLACEHOLDER_TENANT
    mocks = OfflineEntra(published_graph_roles(), tenant_id=tenant, resolve_any_name=True, now=now,
                         stack_outputs=history)
    return run_offline(mocks, {}, stack, program=program, secret_keys=stack_file.secret_keys,
                       cli_config=stack_file.cli_texts())


def verdict(stack: str, stack_file_path: Path, now: dt.datetime | None = None) -> list[Problem] | None:
    """make plan's reading of a stack file: None when accepted, else its problems (tests compare it
    with the program's)."""
    settings = settings_or_problems(stack, read_stack_file(stack_file_path), now or dt.datetime.now(dt.UTC))
    return settings.problems if isinstance(settings, SettingsError) else None


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="make plan STACK=<stack> ARGS=...", description=plain_help(__doc__),
                                     epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--config-file", type=Path, help="default: Pulumi.<stack>.yaml beside Pulumi.yaml")
    parser.add_argument("--outputs", type=Path, help=OUTPUTS_HELP)
    parser.add_argument("--history", type=Path, help=HISTORY_HELP)
    parser.add_argument("--debug", action="store_true", help="print a traceback on an unexpected error")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code == 0 else EXIT_UNREADABLE
    try:
        return plan(args.stack, args.config_file or ROOT / f"Pulumi.{args.stack}.yaml", out, err, args.outputs,
                    args.history)
    except Exception as error:  # a bug in make plan: a clean line, the traceback only when asked for
        if args.debug:
            traceback.print_exc(file=err)
        err.write(f"error: make plan failed unexpectedly ({type(error).__name__}); run with --debug "
                  "(ARGS=--debug) for the traceback and report it\n")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
