"""Bounds on a stack file, so that reading, validating and planning one takes seconds, whatever its shape.

``make plan`` and ``make plan-diff`` read stack files a pull request controls (``access-plan.yml``
runs the base branch's code on them).  Every bound here is far above what a real stack needs and
low enough that the work stays small: a YAML alias bomb (about 10^8 nodes from a few hundred bytes)
kept ``make plan`` busy for minutes, 2,000 clients run the mock program for minutes, a 5,000-digit
integer or a JSON string nested 5,000 deep ended in a Python error instead of a refusal.  Pulumi's
own YAML reader refuses excessive aliasing too.

The checks run before the values are built: first the file's size (:func:`read_bounded`), then the
composed YAML nodes with every alias and merge key expanded by count, never by copy
(:func:`check_nodes`), then the config values the CLI hands over, including JSON text inside strings
(:func:`check_values`).  A refusal is one line naming the bound, the line of the file, and why.
"""

from __future__ import annotations

import errno
import json
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# What, the bound, and why that number (docs/gitops.md's table repeats it).
MAX_FILE_BYTES = 256 * 1024
"""25 clients with two PEM certificates each are under 150 KB; the pure-Python YAML parser reads
256 KiB in under a second."""
MAX_NODES = 10_000
"""YAML nodes after aliases and merge keys are expanded: 25 clients of the largest shape (a
user-assigned identity with 50 tags) are about 3,500."""
MAX_EXPANDED_CHARS = 1024 * 1024
"""Characters of all values after aliases are expanded: without aliases that is under the file's
256 KiB; aliases of one long value would otherwise make the JSON the CLI hands the program (and
every copy the program decodes) grow to 160 MB within the other bounds."""
MAX_DEPTH = 12
"""Nesting: the deepest real value (a tag of a user-assigned identity) is 7 levels down."""
MAX_ENTRIES = 100
"""Entries of one mapping or list: tags are at most 50, permissions 4, pem entries 2."""
MAX_CLIENTS = 25
"""One client per HR source and provisioning app (a tenant holds at most 20 API-driven apps, with
ID Governance); each client is about 0.1 s of the offline program, which plan-diff runs twice."""
MAX_SCALAR_CHARS = 16 * 1024
"""One value: a PEM certificate with a 4096-bit key is under 2.5 KB, and error messages quote values."""
MAX_KEY_CHARS = 512
"""One key: Azure tag names are at most 512 characters, client keys 40."""
MAX_NUMBER_CHARS = 32
"""One number: a lifetime has 3 digits; Python refuses to convert integers of more than 4,300 digits,
and Pulumi's YAML reader holds 64 bits."""

_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
WHY = "no real stack file needs more; refused so that the plan answers in bounded time"


class StackFileLimitError(Exception):
    """A stack file beyond a bound, with the line where it shows (when known)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"{message} ({WHY})")
        self.line = line


def read_bounded(path: Path) -> bytes:
    """The file's bytes, refusing a file of more than :data:`MAX_FILE_BYTES` without reading the rest.

    Only a regular file (a symbolic link to one is followed): a FIFO would block ``open`` forever and a
    device (``/dev/zero``) never ends."""
    if not stat.S_ISREG(path.stat().st_mode):
        raise OSError(errno.EINVAL, "not a regular file")
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise StackFileLimitError(f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")
    return data


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _NodeWalk:
    """Expanded size and height of every node, each node visited once however many aliases name it."""

    def __init__(self) -> None:
        self.done: dict[int, tuple[int, int, int]] = {}
        self.open: set[int] = set()

    def visit(self, node: Node, depth: int) -> tuple[int, int, int]:
        """The node's (values, characters, height) once expanded."""
        if depth > MAX_DEPTH:
            raise StackFileLimitError(f"nested more than {MAX_DEPTH} levels deep", _line(node))
        key = id(node)
        if key in self.done:
            size, chars, height = self.done[key]
            if depth + height - 1 > MAX_DEPTH:
                raise StackFileLimitError(f"nested more than {MAX_DEPTH} levels deep (through an alias)",
                                          _line(node))
            return size, chars, height
        if key in self.open:
            raise StackFileLimitError("an alias refers to the value that contains it", _line(node))
        self.open.add(key)
        size, height = 1, 1
        chars = len(str(node.value)) if isinstance(node, ScalarNode) else 0
        for child in self._children(node):
            child_size, child_chars, child_height = self.visit(child, depth + 1)
            size, chars, height = size + child_size, chars + child_chars, max(height, child_height + 1)
            if size > MAX_NODES:
                raise StackFileLimitError(f"more than {MAX_NODES:,} values once its aliases are expanded",
                                          _line(node))
            if chars > MAX_EXPANDED_CHARS:
                raise StackFileLimitError(f"more than {MAX_EXPANDED_CHARS // 1024} KiB of text once its aliases "
                                          "are expanded", _line(node))
        self.open.discard(key)
        self.done[key] = (size, chars, height)
        return size, chars, height

    @staticmethod
    def _children(node: Node) -> list[Node]:
        if isinstance(node, ScalarNode):
            text = str(node.value)
            if node.tag in _NUMBER_TAGS and len(text) > MAX_NUMBER_CHARS:
                raise StackFileLimitError(f"a number of more than {MAX_NUMBER_CHARS} characters", _line(node))
            if len(text) > MAX_SCALAR_CHARS:
                raise StackFileLimitError(f"a value of more than {MAX_SCALAR_CHARS:,} characters", _line(node))
            return []
        if isinstance(node, SequenceNode | MappingNode) and len(node.value) > MAX_ENTRIES:
            kind = "mapping" if isinstance(node, MappingNode) else "list"
            raise StackFileLimitError(f"a {kind} of more than {MAX_ENTRIES} entries", _line(node))
        if isinstance(node, SequenceNode):
            return list(node.value)
        if isinstance(node, MappingNode):
            for key, _ in node.value:
                if isinstance(key, ScalarNode) and len(str(key.value)) > MAX_KEY_CHARS:
                    raise StackFileLimitError(f"a key of more than {MAX_KEY_CHARS} characters", _line(key))
            return [part for pair in node.value for part in pair]
        return []


def check_nodes(root: Node | None) -> None:
    """Refuse a composed document beyond any bound, before its values are built."""
    if root is not None:
        _NodeWalk().visit(root, 1)


def _check_value(value: Any, where: str, depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise StackFileLimitError(f"`{where}` holds more than {MAX_NODES:,} values")
    if depth > MAX_DEPTH:
        raise StackFileLimitError(f"`{where}` is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str) and len(value) > MAX_SCALAR_CHARS:
        raise StackFileLimitError(f"`{where}` holds a value of more than {MAX_SCALAR_CHARS:,} characters")
    if isinstance(value, str) and not _encodable(value):
        raise StackFileLimitError(f"`{where}` holds a value that is not valid Unicode (a lone surrogate, from "
                                  "JSON's \\uD800-\\uDFFF escapes)")
    if isinstance(value, int | float) and not isinstance(value, bool) and len(repr(value)) > MAX_NUMBER_CHARS:
        raise StackFileLimitError(f"`{where}` holds a number of more than {MAX_NUMBER_CHARS} characters")
    if isinstance(value, Mapping | list):
        if len(value) > MAX_ENTRIES:
            raise StackFileLimitError(f"`{where}` holds a mapping or list of more than {MAX_ENTRIES} entries")
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in items:
            if len(str(key)) > MAX_KEY_CHARS:
                raise StackFileLimitError(f"`{where}` holds a key of more than {MAX_KEY_CHARS} characters")
            if not _encodable(str(key)):
                raise StackFileLimitError(f"`{where}` holds a key that is not valid Unicode (a lone surrogate, "
                                          "from JSON's \\uD800-\\uDFFF escapes)")
            _check_value(item, where, depth + 1, budget)


def _encodable(text: str) -> bool:
    """Whether ``text`` can be written out at all: JSON's ``\\ud800`` escape decodes to a lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decoded(text: str, where: str) -> Any:
    # What the program does with a top-level string (components.settings.stack_config.decode_config_text).
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
    except RecursionError as error:
        raise StackFileLimitError(f"`{where}` is JSON text nested too deeply") from error
    except ValueError as error:  # an integer of more than 4,300 digits, which Python will not convert
        raise StackFileLimitError(f"`{where}` holds a number of more than {MAX_NUMBER_CHARS} characters") from error


def check_values(values: Mapping[str, Any], clients_key: str) -> None:
    """Refuse config values beyond any bound as the program reads them: JSON text in a string is
    decoded, as the program decodes it, and held to the same bounds; at most :data:`MAX_CLIENTS` clients."""
    budget = [MAX_NODES]
    for key, value in values.items():
        decoded = _decoded(value, key) if isinstance(value, str) else value
        _check_value(decoded, key, 2, budget)
        if key == clients_key and isinstance(decoded, Mapping) and len(decoded) > MAX_CLIENTS:
            raise StackFileLimitError(f"`{key}` has {len(decoded)} clients; make plan reads at most {MAX_CLIENTS}")
