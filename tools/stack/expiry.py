"""make check-expiry: fail when a deployed client's credential has expired or expires soon.

The scheduled pipeline runs it after each weekly deploy, so a credential the program cannot
renew by itself (a bring-your-own certificate whose successor nobody added) alerts someone
weeks before the HR feed stops.  It reads only the stack's non-secret ``clients`` output:
no secret is decrypted, and none is printed.

It also says when the stack was last deployed, from the stack's own history: renewal happens
only when something deploys, and GitHub turns the weekly schedule off after 60 days without
repository activity (``tools/stack/history.py``).

Exit status: 0 nothing expires within the window; 1 something has expired or expires within
it, or no deploy has succeeded for longer than the schedule allows; 2 the outputs or the stack's
history could not be read, or bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from components.renewal import MIN_VALID_AHEAD_DAYS
from tools.cli import plain_help
from tools.stack.history import MAX_DEPLOY_AGE_DAYS, HistoryError, deploy_age, describe, read_updates
from tools.stack.outputs import StackOutputError, pulumi_stack_history, pulumi_stack_output

ROOT = Path(__file__).resolve().parents[2]
EXIT_OK, EXIT_EXPIRING, EXIT_USAGE = 0, 1, 2


class OutputsError(Exception):
    """The stack's outputs could not be read."""


def read_clients(stack: str, outputs_file: Path | None) -> Mapping[str, Any]:
    """The ``clients`` output: from a file (all outputs, or just ``clients``) or the Pulumi CLI."""
    if outputs_file is not None:
        try:
            loaded = json.loads(outputs_file.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise OutputsError(f"cannot read {outputs_file}: {error}") from error
    else:
        try:
            loaded = pulumi_stack_output(stack, ["clients"])
        except StackOutputError as error:
            hint = "; give the outputs with --outputs FILE" if "not on PATH" in str(error) else ""
            raise OutputsError(f"{error}{hint}") from error
    clients = loaded.get("clients", loaded) if isinstance(loaded, dict) else None
    if not isinstance(clients, dict):
        raise OutputsError("the outputs have no `clients` map")
    return clients


def read_history(stack: str, history_file: Path | None) -> Any:
    """``pulumi stack history --json``: from a file or the Pulumi CLI."""
    try:
        return json.loads(history_file.read_text()) if history_file is not None else pulumi_stack_history(stack)
    except (OSError, json.JSONDecodeError, StackOutputError) as error:
        raise OutputsError(f"cannot read the stack's history: {error}") from error


def check_deploys(history: Any, now: dt.datetime, max_days: int, out: TextIO) -> int:
    """Print when the stack was last deployed; return 1 when that is longer ago than the schedule allows."""
    try:
        age = deploy_age(read_updates(history))
    except HistoryError as error:
        raise OutputsError(str(error)) from error
    out.write("\n" + describe(age, now, max_days))
    return EXIT_EXPIRING if age.problems(now, max_days) else EXIT_OK


def check(clients: Mapping[str, Any], now: dt.datetime, days: int, out: TextIO) -> int:
    """Print a table of every client's expiry; return 1 if any is expired or within ``days``."""
    horizon = now + dt.timedelta(days=days)
    failing = 0
    out.write("| client | credential | expires | renews | status |\n|---|---|---|---|---|\n")
    for key in sorted(clients):
        client = clients[key] if isinstance(clients[key], dict) else {}
        kind = str(client.get("credentialType", "?"))
        expires_text = client.get("credentialExpiresAt")
        renews = str(client.get("credentialRenewsAt") or "-")
        if not expires_text:
            if kind in ("secret", "certificate"):  # these always end: outputs without the date are not trusted
                unknown = "END DATE UNKNOWN: no credentialExpiresAt in the outputs"
                out.write(f"| {key} | {kind} | - | {renews} | {unknown} |\n")
                failing += 1
            else:
                out.write(f"| {key} | {kind} | - | - | no expiry |\n")
            continue
        try:
            expires = dt.datetime.fromisoformat(str(expires_text).replace("Z", "+00:00"))
        except ValueError:
            out.write(f"| {key} | {kind} | {expires_text} | {renews} | unreadable date |\n")
            failing += 1
            continue
        if expires <= now:
            status = "EXPIRED"
        elif expires <= horizon:
            status = f"EXPIRES IN {(expires - now).days} DAYS"
        else:
            status = "ok"
        failing += status != "ok"
        out.write(f"| {key} | {kind} | {expires_text} | {renews} | {status} |\n")
    if failing:
        out.write(f"\n{failing} client(s) need a new credential within {days} days: for a bring-your-own "
                  "certificate, add its successor to `pem` (docs/credentials-and-renewal.md, 'Credential renewal'); "
                  "for a credential the program renews, check that the scheduled deploy has run.\n")
    return EXIT_EXPIRING if failing else EXIT_OK


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
         now: dt.datetime | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make check-expiry STACK=<stack> ARGS=...", description=plain_help(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--outputs", type=Path, help="a file of `pulumi stack output --json` instead of the CLI")
    parser.add_argument("--days", type=int, default=MIN_VALID_AHEAD_DAYS,
                        help=f"warning window in days (default {MIN_VALID_AHEAD_DAYS})")
    parser.add_argument("--history", type=Path,
                        help="a file of `pulumi stack history --json` (read from the CLI unless --outputs is given)")
    parser.add_argument("--max-deploy-age", type=int, default=MAX_DEPLOY_AGE_DAYS,
                        help=f"days without a successful deploy that fail the check (default {MAX_DEPLOY_AGE_DAYS})")
    args = parser.parse_args(argv)
    now = now or dt.datetime.now(dt.UTC)
    try:
        clients = read_clients(args.stack, args.outputs)
        # Offline (--outputs) the history is read only when given as well.
        history = read_history(args.stack, args.history) if args.history or args.outputs is None else None
        status = check(clients, now, args.days, out)
        if history is None:
            out.write("\nLast deployed: not read (give the stack's history with --history FILE).\n")
            return status
        return max(status, check_deploys(history, now, args.max_deploy_age, out))
    except OutputsError as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
