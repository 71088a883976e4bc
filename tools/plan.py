"""make plan: the offline access plan of a stack, as Markdown.

Runs this same program (``__main__.py``) under Pulumi's mock engine with the stack's
``Pulumi.<stack>.yaml``: no Pulumi CLI, no credentials, no network.  It prints who gets
which Graph permission with which credential and expiry, and every resource the stack
would manage.  Nothing in it is read from a tenant: principals that already exist are
named as configured, and role ids are Microsoft's published ids (labelled "planned");
``pulumi up`` resolves them by value from Graph's service principal in the tenant.

The stack file is read the way the Pulumi CLI reads it (``read_stack_file``), so the plan
accepts and refuses what ``pulumi up`` would; every value in the Markdown is escaped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pulumi
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from components.microsoft import GALLERY_APP_NAMES, UPLOAD_OWNED_BY
from components.provisioning_app import REPLICATION_WAIT
from components.settings.model import (
    CertificateCredential,
    FederatedCredential,
    GeneratedCertificateCredential,
    ManagedIdentityClientSettings,
    SecretCredential,
    Settings,
)
from components.settings.parse import TOP_LEVEL_KEYS, parse_settings
from components.settings.problems import Encrypted, Problem, SettingsError
from components.settings.stack_config import NAMESPACE, decode_config_text, misplaced_keys
from tools.offline import OfflineEntra, ProgramRun, Registration, published_graph_roles, run_offline

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_TENANT = "00000000-0000-0000-0000-000000000000"
GRANT = "azuread:index/appRoleAssignment:AppRoleAssignment"
APPLICATION_OWNER = "azuread:index/applicationOwner:ApplicationOwner"

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_CODES = f"""\
exit status:
  {EXIT_OK}  the plan was printed
  {EXIT_INVALID}  the configuration is invalid: the error list names every problem by key path
  {EXIT_UNREADABLE}  the stack file cannot be read as Pulumi reads it (missing, not UTF-8, a YAML error such
     as tab indentation, an unclosed bracket or a duplicate key, not a mapping with a config: map),
     or bad arguments; the error names the file and line
  {EXIT_INTERNAL}  a bug in make plan itself; run again with --debug for the traceback
"""

# -- reading a stack file the way the Pulumi CLI does ------------------------------------------
#
# The CLI reads Pulumi.<stack>.yaml with Go's yaml.v3 (YAML 1.2 booleans: `yes` is a string;
# a key twice in one mapping is an error), namespaces bare keys under `config:` with the
# project's name, and hands the program every top-level value as a string: strings as they
# are, numbers and booleans as JSON text, objects and arrays as JSON with `secure:` values
# decrypted.  The program (components/settings.py) JSON-decodes what it can.  make plan builds
# the same strings; offline it cannot decrypt, so a `secure:` value becomes ``Encrypted``.

# The fields of Pulumi's ProjectStack; other top-level keys are ignored by the CLI.
STACK_FILE_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")


def _shown_path(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class StackFileError(Exception):
    """The stack file cannot be read as the Pulumi CLI reads it."""

    def __init__(self, path: Path, message: str, line: int | None = None, column: int | None = None) -> None:
        shown = _shown_path(path)
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
        return StackFileError(path, f"not valid YAML: {problem}", mark.line + 1, mark.column + 1)
    return StackFileError(path, f"not valid YAML: {str(error).splitlines()[0]}")


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
        """This project's keys, decoded as ``components.settings.read_raw_config`` decodes them."""
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
        data = path.read_bytes()
    except OSError as error:
        raise StackFileError(path, f"cannot read: {error.strerror or error}") from error
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
        document = yaml.constructor.construct_document(root) if root is not None else None
    except YAMLError as error:
        raise _yaml_error(path, error) from error
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


# -- Markdown -------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&!])")


def md(text: object) -> str:
    """Text safe in a Markdown table cell: one line, every character that could format, link,
    open HTML or end the cell escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_code(text: object) -> str:
    """``text`` as inline code when it can be, else escaped text."""
    value = " ".join(str(text).split())
    # Inside a code span nothing formats and `<` opens no HTML; only a backtick (ends the span) or a
    # pipe (ends a table cell) must stay out.
    return f"`{value}`" if re.fullmatch(r"[^`|\\]+", value) else md(value)


def _principal(settings: Settings, key: str) -> str:
    client = settings.clients[key]
    if isinstance(client, ManagedIdentityClientSettings):
        if client.existing is not None:
            return f"{client.existing.value} (existing; looked up by {client.existing.lookup} on deploy)"
        name = client.user_assigned.name if client.user_assigned is not None else "?"
        return f"{name} (user-assigned identity, created on deploy)"
    return f"{client.display_name} (created on deploy)"


def _credential(settings: Settings, key: str, shown: Mapping[str, Any]) -> tuple[str, str]:
    client = settings.clients[key]
    if isinstance(client, ManagedIdentityClientSettings):
        return "managed identity", "managed by Azure"
    credential = client.credential
    expires = str(shown.get("credentialExpiresAt", ""))[:10]
    renews = str(shown.get("credentialRenewsAt", ""))[:10]
    if isinstance(credential, SecretCredential | GeneratedCertificateCredential):
        period = (f"picked from the {_lifetime(credential)}-day lifetime" if credential.rotation_chosen
                  else "rotationDays")
        what = ("secret" if isinstance(credential, SecretCredential)
                else f"certificate, generated (CN={credential.subject})")
        return (f"{what}, renewed every {credential.rotation_days} days ({period})",
                f"{expires} (newest); next renewal {renews}, the previous one kept until the renewal after")
    if isinstance(credential, CertificateCredential):
        listed = ", ".join(f"{c.thumbprint} (until {c.not_after:%Y-%m-%d})" for c in credential.certificates)
        registered = len(credential.registered)
        note = "" if registered == len(credential.certificates) else f"; {registered} registered, expired left out"
        return f"certificate {listed}", f"{expires} (the newest certificate's own expiry{note})"
    if not isinstance(credential, FederatedCredential):
        raise TypeError(f"unknown credential {credential!r}")
    return f"federated ({credential.issuer}, {credential.subject})", "no secret, no expiry"


def _lifetime(credential: SecretCredential | GeneratedCertificateCredential) -> int:
    return credential.lifetime_days if isinstance(credential, SecretCredential) else credential.validity_days


def render(stack: str, stack_file: Path, settings: Settings, run: ProgramRun, out: TextIO) -> None:
    # Every interpolated value is escaped (md, md_code): a display name with a `|` or a newline
    # must not add a column or a row, nor shift what reviewers read in the permission column.
    role_ids = {(r.name.split("-grant-")[0], r.name.split("-grant-", 1)[1]): r.inputs["appRoleId"]
                for r in run.of_type(GRANT)}
    out.write(f"# Access plan: stack {md_code(stack)}\n\n")
    out.write(f"Offline plan of {md_code(stack_file.name)}: this program run under Pulumi's mock engine. "
              "Nothing was read from or written to a tenant. Role ids are Microsoft's published ids "
              "(planned); `pulumi up` resolves them by value from Microsoft Graph's service principal.\n\n")
    out.write("## Grants\n\n")
    out.write("| client | kind | principal | Graph permission | role id (planned) | credential | expires |\n")
    out.write("|---|---|---|---|---|---|---|\n")
    for key, shown in run.outputs["clients"].items():
        credential, expires = _credential(settings, key, shown)
        for permission in shown["graphPermissions"]:
            cells = [md(key), md(shown["kind"]), md(_principal(settings, key)), md(permission),
                     md_code(role_ids[(key, permission)]), md(credential), md(expires)]
            out.write(f"| {' | '.join(cells)} |\n")
    out.write(f"\n`protect` is **{'on' if settings.protect else 'off'}** for app registrations, service "
              "principals, managed identities and grants.\n")
    if settings.provisioning_app is not None and settings.provisioning_app.create is not None:
        render_provisioning_chain(settings, run, out)
    elif settings.provisioning_app is not None:
        app = settings.provisioning_app
        out.write(f"\nProvisioning app: {md(app.display_name or app.service_principal_id)}, "
                  f"job {md_code(app.job_id)}.\n")
    custom = sorted((r for r in run.registrations if r.custom), key=lambda r: r.name)
    out.write(f"\n## Resources the stack manages ({len(custom)})\n\n| type | name | protect |\n|---|---|---|\n")
    for registration in custom:
        out.write(f"| {md_code(registration.type)} | {md_code(registration.name)} | "
                  f"{'yes' if registration.protect else 'no'} |\n")
    render_adoption(settings, run, out)
    warnings = [message for level, message in run.logs if level == "warning"]
    if warnings:
        out.write("\n## Warnings\n\n" + "".join(f"- {md(w)}\n" for w in warnings))


def render_provisioning_chain(settings: Settings, run: ProgramRun, out: TextIO) -> None:
    """``provisioningApp.create``: what the stack builds, in order, and what is left to do by hand."""
    app = settings.provisioning_app
    create = app.create if app is not None else None
    if create is None:
        return
    owner_keys = [r.name.split("-owner-", 1)[1] for r in run.of_type(APPLICATION_OWNER)]
    if create.template_id is not None:
        template = f"{md_code(create.template_id)} (configured)"
    else:
        names = " or ".join(f"\"{n}\"" for n in GALLERY_APP_NAMES[create.target])
        template = f"the gallery app {names}, looked up by display name on deploy"
    steps = [
        ("1. template", template, "read on deploy"),
        ("2. app", f"{md_code(create.display_name)} from the template: application and service principal",
         "created on deploy"),
        ("3. wait", f"{REPLICATION_WAIT} for the new service principal to replicate (first deploy only)",
         "created on deploy"),
        ("4. notification email", f"`SyncNotificationSettings` to {md(create.notification_email)}",
         "created on deploy"),
        ("5. job", f"{md_code(create.job_template_id)}, started, after the notification email", "created on deploy"),
        ("6. owners of the application",
         ", ".join(owner_keys) if owner_keys else f"none (no client is granted {UPLOAD_OWNED_BY})",
         "created on deploy" if owner_keys else "-"),
    ]
    pending = []
    if owner_keys:
        pending.append(("owners of the service principal", ", ".join(owner_keys),
                        "**pending, manual**: azuread has no resource for it (README, 'Least privilege')"))
    if create.target == "activeDirectory":
        pending += [
            ("provisioning agent", "install the agent on a domain-joined server and assign it to the app",
             "**pending, manual**: needs delegated permissions (README, 'Creating the provisioning app')"),
            ("domain and OU", "select the domain and default OU on the app's *Provisioning* page",
             "**pending, manual**"),
        ]
    pending.append(("attribute mappings", "the template's defaults; edit in *Provisioning* > *Mappings*",
                    "not managed (azuread has no resource for the job's schema)"))
    out.write(f"\n## Provisioning app (created by this stack, target `{create.target}`)\n\n")
    out.write("| step | what | status |\n|---|---|---|\n")
    for step, what, status in [*steps, *pending]:
        out.write(f"| {step} | {what} | {status} |\n")
    out.write(f"\n`protect` is **{'on' if settings.protect else 'off'}** for the app, the job and the ownerships. "
              "`bulkUploadUrl`, `provisioningLogsUrl` and `provisioningJobId` are known once the job exists.\n")


def render_adoption(settings: Settings, run: ProgramRun, out: TextIO) -> None:
    """Adopted objects: what is imported, and the inputs that change an adopted app on import."""
    adopted = {key: client for key, client in settings.clients.items() if client.adopt is not None}
    if not adopted:
        return
    out.write("\n## Adopted objects (imported on deploy, not created)\n\n"
              "Offline there is no tenant: these are the values the program sets. On deploy the provider "
              "compares them with each imported object as Graph has it, and a difference is applied as an "
              "update right after the import (older Pulumi CLIs stop instead). `make adopt` shows the actual "
              "differences.\n\n")
    for key, client in adopted.items():
        imports = [r for r in run.registrations if r.import_id and r.parent.endswith(f"::{key}")]

        def shown(registration: Registration) -> str:
            # Offline, Graph's service principal id is a placeholder: name it, never show it as real.
            graph_id = str(registration.inputs.get("resourceObjectId", ""))
            return registration.import_id.replace(graph_id, "<Graph's service principal>") if graph_id \
                else registration.import_id

        out.write(f"- **{md(key)}**: " + ", ".join(f"{md_code(r.name)} ← {md_code(shown(r))}" for r in imports)
                  + "\n")
        if isinstance(client, ManagedIdentityClientSettings):
            continue
        app = next((r for r in imports if r.type == "azuread:index/application:Application"), None)
        if app is None:
            continue
        declared = [a["id"] for access in app.inputs.get("requiredResourceAccesses", [])
                    for a in access.get("resourceAccesses", [])]
        roles = {r.inputs["appRoleId"]: r.name.split("-grant-", 1)[1] for r in run.of_type(GRANT)
                 if r.name.startswith(f"{key}-grant-")}
        name, notes, audience = (md_code(app.inputs.get(k)) for k in ("displayName", "notes", "signInAudience"))
        out.write(f"  - on import the app registration gets: displayName {name}; "
                  f"notes {notes}; signInAudience {audience}; "
                  f"declared API permissions exactly {', '.join(roles.get(i, i) for i in declared)} (Role; "
                  "others it declares are dropped); owners: none (any owners are removed); "
                  "redirect URIs, identifier URIs and app roles: none\n"
                  f"  - its own credentials are left alone; the stack adds its {client.credential.type} beside them\n")


def settings_or_problems(stack: str, stack_file: StackFile, now: dt.datetime) -> Settings | SettingsError:
    """The stack file's settings, or every problem the CLI's type check and the program's validation find."""
    typed = declared_type_problems(stack_file)
    try:
        settings = parse_settings(stack_file.raw, stack, now, stack_file.secret_keys, stack_file.misplaced)
    except SettingsError as error:
        # One problem per typed key: the CLI's type check, not the program's item by item.
        typed_keys = {p.path for p in typed}
        rest = [p for p in error.problems if re.split(r"[.\[]", p.path, maxsplit=1)[0] not in typed_keys]
        return SettingsError(stack, typed + rest)
    return SettingsError(stack, typed) if typed else settings


def plan(stack: str, stack_file_path: Path, out: TextIO, err: TextIO) -> int:
    """Print the access plan of one stack file; return the exit status (see ``EXIT_CODES``)."""
    if not stack_file_path.exists():
        err.write(f"error: {_shown_path(stack_file_path)} does not exist\n")
        return EXIT_UNREADABLE
    try:
        stack_file = read_stack_file(stack_file_path)
    except StackFileError as error:
        err.write(f"error: {error}\n")
        return EXIT_UNREADABLE
    now = dt.datetime.now(dt.UTC)
    settings = settings_or_problems(stack, stack_file, now)
    if isinstance(settings, SettingsError):
        err.write(f"{settings}\n")
        return EXIT_INVALID
    try:
        run = run_stack_file(stack, stack_file, settings, now)
    except pulumi.RunError as error:  # SettingsError, or a lookup the program refuses
        err.write(f"{error}\n")
        return EXIT_INVALID
    render(stack, stack_file_path, settings, run, out)
    return EXIT_OK


def run_stack_file(stack: str, stack_file: StackFile, settings: Settings, now: dt.datetime) -> ProgramRun:
    """Run the program offline on a validated stack file, fed the very strings the CLI would hand it."""
    # Offline there is no tenant: assume the one the provisioning job names, if any.
    tenant = (settings.provisioning_app.job_tenant_id if settings.provisioning_app is not None
              else "") or PLACEHOLDER_TENANT
    mocks = OfflineEntra(published_graph_roles(), tenant_id=tenant, resolve_any_name=True, now=now)
    return run_offline(mocks, {}, stack, secret_keys=stack_file.secret_keys, cli_config=stack_file.cli_texts())


def verdict(stack: str, stack_file_path: Path, now: dt.datetime | None = None) -> list[Problem] | None:
    """make plan's reading of a stack file: None when accepted, else its problems (tests compare it
    with the program's)."""
    settings = settings_or_problems(stack, read_stack_file(stack_file_path), now or dt.datetime.now(dt.UTC))
    return settings.problems if isinstance(settings, SettingsError) else None


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="make plan STACK=<stack>", description=__doc__, epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--config-file", type=Path, help="default: Pulumi.<stack>.yaml beside Pulumi.yaml")
    parser.add_argument("--debug", action="store_true", help="print a traceback on an unexpected error")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code == 0 else EXIT_UNREADABLE
    try:
        return plan(args.stack, args.config_file or ROOT / f"Pulumi.{args.stack}.yaml", out, err)
    except Exception as error:  # a bug in make plan: a clean line, the traceback only when asked for
        if args.debug:
            traceback.print_exc(file=err)
        err.write(f"error: make plan failed unexpectedly ({type(error).__name__}); run with --debug "
                  "(ARGS=--debug) for the traceback and report it\n")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
