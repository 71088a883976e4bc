"""Reading a deployed stack's outputs (and history) through the Pulumi CLI, the one way every tool does it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


LOCAL_STATE = ROOT / ".pulumi-state"
"""The state backend ``make up`` uses when ``PULUMI_BACKEND_URL`` is unset (``tools/pulumi-stack.sh``)."""


def never_deployed_here(stack: str, state: Path | None = None) -> bool:
    """Whether ``stack`` has no checkpoint in this checkout's own state backend, with no other backend set.

    A DIY backend keeps one checkpoint per stack, ``.pulumi/stacks/<project>/<stack>.json`` (``<stack>.json``
    before projects; ``.gz`` when compressed): without it the Pulumi CLI would answer "no stack named" too, so
    a never-deployed stack needs no CLI to be known as one. With ``PULUMI_BACKEND_URL`` set only the CLI can tell.
    """
    if os.environ.get("PULUMI_BACKEND_URL"):
        return False
    stacks = (state or LOCAL_STATE) / ".pulumi" / "stacks"
    return not any(found for suffix in (".json", ".json.gz")
                   for found in (*stacks.glob(f"*/{stack}{suffix}"), stacks / f"{stack}{suffix}") if found.exists())


class StackOutputError(Exception):
    """The CLI is missing, failed, or printed something that is not JSON."""


def pulumi_stack_output(stack: str, extra: Sequence[str] = ()) -> Any:
    """``pulumi stack output --json`` for ``stack``, parsed; the local state backend unless one is set."""
    return _pulumi_json(["stack", "output", *extra], stack)


def pulumi_stack_history(stack: str) -> Any:
    """``pulumi stack history --json`` for ``stack`` (its updates, newest first; no secret is decrypted)."""
    return _pulumi_json(["stack", "history", "--page-size", "20"], stack)


def pulumi_stack_export(stack: str) -> Any:
    """``pulumi stack export`` for ``stack``, parsed: its state, secrets encrypted (pending operations included)."""
    return _pulumi_json(["stack", "export"], stack, json_flag=False)


def _pulumi_json(command: Sequence[str], stack: str, json_flag: bool = True) -> Any:
    env = dict(os.environ)
    env.setdefault("PULUMI_BACKEND_URL", f"file://{LOCAL_STATE}")
    try:
        result = subprocess.run(  # noqa: S603
            ["pulumi", *command, *(["--json"] if json_flag else []), "--stack", stack],  # noqa: S607
            capture_output=True, text=True, check=True, env=env, cwd=ROOT,
        )
    except FileNotFoundError as error:
        raise StackOutputError("the Pulumi CLI is not on PATH") from error
    except subprocess.CalledProcessError as error:
        raise StackOutputError(f"pulumi {' '.join(command[:2])} failed: {error.stderr.strip()}") from error
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise StackOutputError(f"pulumi {' '.join(command[:2])} did not print JSON ({error.msg})") from error
