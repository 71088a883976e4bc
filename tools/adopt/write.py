"""make adopt --write: the adopt blocks written into the stack file, keeping every other line and comment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.settings.stack_config import NAMESPACE


class WriteError(Exception):
    """The stack file is not in a shape this tool edits safely."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """The index after the last line that belongs to the block whose key line is ``start``."""
    end = start + 1
    for index in range(start + 1, len(lines)):
        if _content(lines[index]):
            if _indent(lines[index]) <= indent:
                break
            end = index + 1
    return end


def write_adopt(text: str, blocks: Mapping[str, Mapping[str, Any]]) -> str:
    """``text`` with each client's ``adopt`` key replaced or added; raises :class:`WriteError`."""
    lines = text.splitlines(keepends=True)
    clients_re = re.compile(rf"^(\s*){re.escape(NAMESPACE)}:clients:\s*(#.*)?$")
    starts = [i for i, line in enumerate(lines) if clients_re.match(line)]
    if len(starts) != 1:
        raise WriteError(f"no block-style `{NAMESPACE}:clients:` key")
    clients_at = starts[0]
    clients_indent = _indent(lines[clients_at])
    for key, block in blocks.items():
        end = _block_end(lines, clients_at, clients_indent)
        key_re = re.compile(rf"^(\s+){re.escape(key)}:\s*(#.*)?$")
        found = [i for i in range(clients_at + 1, end) if key_re.match(lines[i])]
        if len(found) != 1:
            raise WriteError(f"client {key!r} is not written as a block (`{key}:` on a line of its own)")
        key_at = found[0]
        key_indent = _indent(lines[key_at])
        client_end = _block_end(lines, key_at, key_indent)
        children = [i for i in range(key_at + 1, client_end) if _content(lines[i])]
        child_indent = _indent(lines[children[0]]) if children else key_indent + 2
        adopt_at = [i for i in children if _indent(lines[i]) == child_indent and lines[i].strip().startswith("adopt:")]
        if adopt_at:
            adopt_end = _block_end(lines, adopt_at[0], child_indent)
            del lines[adopt_at[0]:adopt_end]
            client_end -= adopt_end - adopt_at[0]
            insert_at = adopt_at[0]
        else:
            last = [i for i in range(key_at + 1, client_end) if _content(lines[i])]
            insert_at = (last[-1] + 1) if last else key_at + 1
        if insert_at > 0 and not lines[insert_at - 1].endswith("\n"):
            lines[insert_at - 1] += "\n"
        dumped = yaml.safe_dump({"adopt": dict(block["adopt"])}, sort_keys=False, default_flow_style=False)
        lines[insert_at:insert_at] = [" " * child_indent + line + "\n" for line in dumped.splitlines()]
    return "".join(lines)


def write_stack_file(path: Path, blocks: Mapping[str, Mapping[str, Any]]) -> None:
    """Write the blocks into the stack file, after checking the result parses to exactly the intended config."""
    text = path.read_text()
    new_text = write_adopt(text, blocks)
    expected = yaml.safe_load(text) or {}
    clients = expected["config"][f"{NAMESPACE}:clients"]
    for key, block in blocks.items():
        clients[key]["adopt"] = block["adopt"]
    if yaml.safe_load(new_text) != expected:
        raise WriteError("the edited file would not read back as intended")
    path.write_text(new_text)
