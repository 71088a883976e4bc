"""Reading a stack file the way the Pulumi CLI does: ``Pulumi.<stack>.yaml`` → the config strings a program gets.

Used by ``make plan``, ``make plan-diff`` and ``make adopt``: a stack file is accepted and refused
as ``pulumi up`` would, and values only the CLI can decrypt become ``Encrypted``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from components.settings.parse import TOP_LEVEL_KEYS
from components.settings.problems import Encrypted, Problem
from components.settings.stack_config import NAMESPACE, decode_config_text, misplaced_keys
from tools.stack import limits

ROOT = Path(__file__).resolve().parents[2]

# -- reading a stack file the way the Pulumi CLI does ------------------------------------------
#
# The CLI reads Pulumi.<stack>.yaml with Go's yaml.v3 (YAML 1.2 booleans: `yes` is a string;
# a key twice in one mapping is an error), namespaces bare keys under `config:` with the
# project's name, and hands the program every top-level value as a string: strings as they
# are, numbers and booleans as JSON text, objects and arrays as JSON with `secure:` values
# decrypted.  The program (components/settings/stack_config.py) JSON-decodes what it can.  make plan builds
# the same strings; offline it cannot decrypt, so a `secure:` value becomes ``Encrypted``.

# The fields of Pulumi's ProjectStack; other top-level keys are ignored by the CLI.
STACK_FILE_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")


def shown_path(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class StackFileError(Exception):
    """The stack file cannot be read as the Pulumi CLI reads it."""

    def __init__(self, path: Path, message: str, line: int | None = None, column: int | None = None) -> None:
        shown = shown_path(path)
        where = f"{shown}:{line}:{column}" if line is not None and column is not None else \
            f"{shown}:{line}" if line is not None else shown
        super().__init__(f"{where}: {message}")


class _PulumiConstructor(SafeConstructor):
    """YAML 1.2 values as yaml.v3 decodes them into untyped Go values: timestamps stay strings."""

    def construct_timestamp_as_text(self, node: Any, values: Any = None) -> Any:
        return self.construct_scalar(node)


_PulumiConstructor.add_constructor("tag:yaml.org,2002:timestamp", _PulumiConstructor.construct_timestamp_as_text)


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)  # YAML 1.2; duplicate keys raise DuplicateKeyError
    yaml.Constructor = _PulumiConstructor
    return yaml


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _yaml_error(path: Path, error: YAMLError) -> StackFileError:
    if isinstance(error, MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        problem = str(error.problem or error.context or "invalid YAML")
        duplicate = re.match(r'found duplicate key "(.*?)" with value', problem)
        if duplicate:
            first = error.context_mark.line + 1 if error.context_mark is not None else "?"
            # Never the values: the parser's own message quotes both, and one may be key material.
            problem = (f"key `{duplicate.group(1)}` appears twice in the mapping that starts on line {first}; "
                       "Pulumi refuses duplicate keys")
        elif "'\\t'" in problem or "\t" in problem:
            problem = "a tab character; YAML indents with spaces only"
        elif "another document" in problem or "expected a single document" in problem:
            problem = "more than one YAML document; a stack file holds one"
        elif _INDENTATION.search(problem):
            problem = (f"{_shortened(problem)}; check the indentation of line {mark.line + 1} and the line above it: "
                       "YAML nests by indentation, so a key lines up with the keys beside it and what it holds "
                       "is indented further, with spaces"
                       + ("; or quote a value that holds `: `" if "mapping values" in problem else ""))
        return StackFileError(path, f"not valid YAML: {_shortened(problem, 400)}", mark.line + 1, mark.column + 1)
    return StackFileError(path, f"not valid YAML: {_shortened(str(error).splitlines()[0])}")


# The parser's words for a line indented differently from what the lines around it open or close.
_INDENTATION = re.compile(r"expected <block end>|mapping values are not allowed here|could not find expected ':'|"
                          r"did not find expected (key|'-' indicator)|expected <block mapping start>")


def _shortened(problem: str, limit: int = 200) -> str:
    """The parser's message, which may quote a tag or alias name of any length from the file."""
    return problem if len(problem) <= limit else f"{problem[:limit]}... ({len(problem):,} characters)"


def _plaintext(value: Any, path: str) -> Any:
    """A parsed YAML value as the program sees it after the CLI's JSON round trip."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("secure"), str):
            return Encrypted()
        # yaml.v3 turns non-string keys into text ("%v"); JSON object keys are strings.
        return {_go_text(k): _plaintext(v, f"{path}.{_go_text(k)}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plaintext(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, set):
        return dict.fromkeys((_go_text(k) for k in value), None)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value} cannot be handed to the program (JSON has no infinity or NaN)")
        # Go's encoding/json writes 90.0 as 90, which the program decodes as the integer 90.
        return int(value) if value.is_integer() and abs(value) < 1e21 else value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _go_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


def _contains_encrypted(value: Any) -> bool:
    if isinstance(value, Encrypted):
        return True
    if isinstance(value, dict):
        return any(_contains_encrypted(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_encrypted(v) for v in value)
    return False


def cli_text(value: Any) -> str:
    """The string the CLI hands the program for one top-level value (after :func:`_plaintext`)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""  # Pulumi reads a key without a value as the empty string
    return json.dumps(value, separators=(",", ":"))


@dataclass
class StackFile:
    """A stack file's config as the Pulumi CLI hands it to the program."""

    path: Path
    values: dict[str, Any] = field(default_factory=dict)
    """Full key -> value after the CLI's JSON round trip; ``Encrypted`` where a ``secure:`` value was."""
    misplaced: list[str] = field(default_factory=list)
    """Keys that look like this project's but that Pulumi will not hand to it under its namespace."""

    def cli_texts(self) -> dict[str, str]:
        """Full key -> the string in PULUMI_CONFIG; encrypted values are left out (only the CLI decrypts)."""
        return {k: cli_text(v) for k, v in self.values.items() if not _contains_encrypted(v)}

    @property
    def raw(self) -> dict[str, Any]:
        """This project's keys, decoded as ``components.settings.stack_config.read_raw_config`` decodes them."""
        prefix = f"{NAMESPACE}:"
        return {k[len(prefix):]: v if _contains_encrypted(v) else decode_config_text(cli_text(v))
                for k, v in self.values.items() if k.startswith(prefix)}

    @property
    def secret_keys(self) -> frozenset[str]:
        """This project's keys holding a ``secure:`` value at any depth: the CLI marks them secret."""
        prefix = f"{NAMESPACE}:"
        return frozenset(k[len(prefix):] for k, v in self.values.items()
                         if k.startswith(prefix) and _contains_encrypted(v))


def _full_key(path: Path, key: str, node: Node) -> str:
    # Pulumi's config.ParseKey: <namespace>:<name>, or the old <namespace>:config:<name>;
    # since v3.5x a bare <name> belongs to the project (stackConfigNamespacedWithProject).
    parts = key.split(":")
    if len(parts) == 1:
        return f"{NAMESPACE}:{key}"
    if len(parts) == 2:
        return key
    if len(parts) == 3 and parts[1] == "config":
        return f"{parts[0]}:{parts[2]}"
    raise StackFileError(path, f"config key `{key}` is not of the form <namespace>:<name>", _line(node))


def read_stack_file(path: Path) -> StackFile:
    """Read ``path`` as the Pulumi CLI reads a stack file; raise :class:`StackFileError` where it would fail."""
    try:
        data = limits.read_bounded(path)
    except OSError as error:
        raise StackFileError(path, f"cannot read: {error.strerror or error}") from error
    except limits.StackFileLimitError as error:
        raise StackFileError(path, str(error)) from error
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # the CLI strips a UTF-8 byte-order mark
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise StackFileError(path, "not UTF-8 text", line) from error
    yaml = _yaml()
    try:
        root = yaml.compose(text)
        limits.check_nodes(root)  # before any value is built: aliases are counted, never expanded
        document = yaml.constructor.construct_document(root) if root is not None else None
    except YAMLError as error:
        raise _yaml_error(path, error) from error
    except limits.StackFileLimitError as error:
        raise StackFileError(path, str(error), error.line) from error
    except RecursionError as error:
        raise StackFileError(path, "nested too deeply to be a stack file") from error
    stack_file = StackFile(path)
    if document is None:
        return stack_file  # an empty file: no config, as under Pulumi
    if not isinstance(document, dict) or not isinstance(root, MappingNode):
        kind = "a list" if isinstance(document, list) else "a single value"
        raise StackFileError(path, f"the document is {kind}; a stack file is a mapping with a `config:` key, "
                             f"for example `config: {{{NAMESPACE}:clients: ...}}`", _line(root), 1)
    nodes = {key_node.value: value_node for key_node, value_node in root.value
             if isinstance(key_node, ScalarNode)}
    for key in document:
        name = str(key)
        namespace = name.partition(":")[0]
        if name not in STACK_FILE_KEYS and (name in TOP_LEVEL_KEYS or misplaced_keys([f"{namespace}:x"])
                                            or namespace == NAMESPACE):
            stack_file.misplaced.append(name)
    config = document.get("config")
    if config is None:
        return stack_file
    config_node = nodes.get("config", root)
    if not isinstance(config, dict) or not isinstance(config_node, MappingNode):
        raise StackFileError(path, "`config:` is not a mapping of <namespace>:<key> to values", _line(config_node))
    key_nodes = [k for k, _ in config_node.value]
    for key_node, (key, value) in zip(key_nodes, config.items(), strict=False):
        if not isinstance(key, str):
            raise StackFileError(path, f"config key {key!r} is not text", _line(key_node))
        full = _full_key(path, key, key_node)
        if full in stack_file.values:
            raise StackFileError(path, f"`{key}` sets `{full}` a second time (a bare key belongs to the project's "
                                 "namespace)", _line(key_node))
        try:
            stack_file.values[full] = _plaintext(value, full)
        except ValueError as error:
            raise StackFileError(path, str(error), _line(key_node)) from error
        except RecursionError as error:
            raise StackFileError(path, f"`{key}` is nested too deeply", _line(key_node)) from error
    try:
        limits.check_values(stack_file.values, f"{NAMESPACE}:clients")
    except limits.StackFileLimitError as error:
        raise StackFileError(path, str(error)) from error
    stack_file.misplaced += misplaced_keys(stack_file.values)
    return stack_file


def _declared_types(project_file: Path) -> dict[str, tuple[str, Any]]:
    """Pulumi.yaml's typed config declarations in this project's namespace: key -> (type, items)."""
    try:
        project = _yaml().load(project_file.read_text())
    except (OSError, YAMLError):
        return {}  # no project file beside it: nothing declared
    declared = project.get("config") if isinstance(project, dict) else None
    if not isinstance(declared, dict):
        return {}
    types = {}
    for key, spec in declared.items():
        namespace, sep, name = str(key).partition(":")
        if isinstance(spec, dict) and isinstance(spec.get("type"), str) and (not sep or namespace == NAMESPACE):
            types[name if sep else namespace] = (spec["type"], spec.get("items"))
    return types


def _of_type(type_name: str, items: Any, content: Any) -> bool:
    # Pulumi's ValidateConfigValue: how the CLI checks a stack value against Pulumi.yaml's type.
    if type_name == "string":
        return isinstance(content, str)
    if type_name == "integer":
        return (isinstance(content, int) and not isinstance(content, bool)) or \
            (isinstance(content, str) and re.fullmatch(r"[+-]?\d+", content) is not None)
    if type_name == "boolean":
        return isinstance(content, bool) or content in ("true", "false")
    if type_name != "array" or not isinstance(content, list) or not isinstance(items, dict):
        return False
    return all(_of_type(str(items.get("type")), items.get("items"), item) for item in content)


def declared_type_problems(stack_file: StackFile, project_file: Path = ROOT / "Pulumi.yaml") -> list[Problem]:
    """Values the CLI refuses before the program runs, because Pulumi.yaml declares another type."""
    problems = []
    for name, (type_name, items) in _declared_types(project_file).items():
        value = stack_file.values.get(f"{NAMESPACE}:{name}", _ABSENT)
        if value is _ABSENT or _contains_encrypted(value):
            continue  # absent: the CLI hands over the declared default; encrypted: checked once decrypted
        content = value if isinstance(value, dict | list) else cli_text(value)
        if not _of_type(type_name, items, content):
            shown = type_name if not isinstance(items, dict) else f"{type_name}<{items.get('type')}>"
            problems.append(Problem.of(name, decode_config_text(cli_text(value)),
                                       f"Pulumi.yaml declares it {shown}, so the CLI refuses the stack "
                                       "before the program runs"))
    return problems


_ABSENT = object()
