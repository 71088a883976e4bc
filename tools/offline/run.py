"""Running the program offline: Pulumi's mock engine with a recording monitor, and what one run did.

Used by the tests, by ``make plan`` and by the benchmarks.  ``run_offline`` runs the program
in-process against a mock (``tools/offline/entra.py``) and records every resource the program
registers and every data-source call it makes, as a ``ProgramRun``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import runpy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings

from components.access import from_stack_config
from components.microsoft import GRAPH_APP_ID
from components.settings.stack_config import NAMESPACE
from tools.offline.entra import GRAPH_SP_TOKEN, OfflineEntra, ProviderError
from tools.offline.event_loops import run_loops

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "inbound-provisioning-access"


class _ProviderRpcError(grpc.RpcError):  # type: ignore[misc]
    # What the engine's gRPC answer looks like when a provider fails an invoke.
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._message = message

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._message


@dataclass(frozen=True)
class Registration:
    """One resource the program registered, with the options that matter for review."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    protect: bool
    dependencies: tuple[str, ...]
    ignore_changes: tuple[str, ...]
    aliases: tuple[str, ...]
    """Names of the aliases the resource declares (earlier names it takes state over from)."""
    inputs: dict[str, Any]
    """Inputs as the provider receives them, secrets unwrapped."""
    import_id: str = ""
    """The ``import`` resource option: the id of an existing object to adopt ("" when created)."""
    secret_inputs: frozenset[str] = frozenset()
    """The inputs that are, or hold, a secret (as the engine receives them: stored encrypted)."""


def holds_secret(value: Any) -> bool:
    """Whether a deserialized input is, or contains, a Pulumi secret envelope."""
    if isinstance(value, dict):
        return value.get(rpc._special_sig_key) == rpc._special_secret_sig or any(map(holds_secret, value.values()))
    return isinstance(value, list) and any(map(holds_secret, value))


def unwrap_secrets(value: Any) -> Any:
    """Replace Pulumi's secret envelopes with their values."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return unwrap_secrets(value["value"])
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


DUPLICATE_URN = "Duplicate resource URN '{}'; try giving it a unique name"
"""The engine's error for a second resource (registered or read) with a URN already used in the deployment
(pulumi ``sdk/go/common/diag/errors.go``, ``GetDuplicateResourceURNError``)."""


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock engine's monitor, also recording each registration's options.

    Like the engine (``step_generator.go``, ``generateURN``), it refuses a second resource with a URN the
    deployment has already used, whether registered or read (a ``StackReference`` is a read): a URN is the
    parents' type chain, the type and the name, so two children of the same name and type under parents of
    the same type collide.  The mock's own URNs keep only the parent's last type, so the chain is kept here.
    """

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self._type_chains: dict[str, str] = {}
        """Each resource's type chain (its parents' types and its own, ``$``-joined), by the mock's URN."""
        self._engine_urns: set[str] = set()

    def claim_urn(self, request: Any) -> None:
        """Record the resource's URN, or refuse it as the engine does when the deployment has used it."""
        if request.type == "pulumi:pulumi:Stack":
            return
        parent_chain = self._type_chains.get(request.parent, "")  # the root stack's children: no chain
        chain = f"{parent_chain}${request.type}" if parent_chain else request.type
        engine_urn = f"{chain}::{request.name}"
        if engine_urn in self._engine_urns:
            raise _ProviderRpcError(DUPLICATE_URN.format(
                f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{engine_urn}"))
        self._engine_urns.add(engine_urn)
        self._type_chains[self.make_urn(request.parent, request.type, request.name)] = chain

    def Invoke(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        try:
            return super().Invoke(request)  # type: ignore[no-untyped-call]
        except ProviderError as error:
            raise _ProviderRpcError(str(error)) from error

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self.claim_urn(request)
        return super().ReadResource(request)  # type: ignore[no-untyped-call]

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self.claim_urn(request)
        response = self.respond(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = rpc.deserialize_properties(request.object)
            self.registrations.append(Registration(
                type=request.type, name=request.name, urn=response.urn, parent=request.parent,
                custom=bool(request.custom), protect=bool(request.protect),
                dependencies=tuple(request.dependencies), ignore_changes=tuple(request.ignoreChanges),
                aliases=tuple(a.spec.name for a in request.aliases if a.HasField("spec") and a.spec.name),
                inputs=unwrap_secrets(raw),
                import_id=request.importId,
                secret_inputs=frozenset(k for k, v in raw.items() if holds_secret(v)),
            ))
        return response


    def respond(self, request: Any) -> Any:
        """The engine's answer to a registration (a deploy simulation answers from its state)."""
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((record.levelname.lower(), record.getMessage()))


@dataclass
class ProgramRun:
    """What one offline run registered, called, logged and exported."""

    registrations: list[Registration]
    calls: list[tuple[str, dict[str, Any]]]
    logs: list[tuple[str, str]]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: frozenset[str] = frozenset()

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == typ]

    def named(self, name: str) -> Registration:
        found = [r for r in self.registrations if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}")
        return found[0]

    def calls_to(self, token: str) -> list[dict[str, Any]]:
        return [args for tok, args in self.calls if tok == token]

    @property
    def graph_lookups(self) -> int:
        return sum(1 for args in self.calls_to(GRAPH_SP_TOKEN) if args.get("clientId") == GRAPH_APP_ID)


def configure(mocks: OfflineEntra, config: Mapping[str, Any], stack: str,
              secret_keys: Iterable[str] = (), monitor: RecordingMonitor | None = None,
              cli_config: Mapping[str, str] | None = None) -> tuple[RecordingMonitor, _LogCollector]:
    """A fresh mock runtime with this stack config: no state carries over from an earlier run
    (``monitor`` may carry a deploy simulation's state).

    ``config`` holds values by key in this project's namespace, handed over as JSON.
    ``cli_config``, when given, replaces it: full keys (any namespace) with the very strings
    the Pulumi CLI hands a program (``tools.stack.stack_file.StackFile.cli_texts``), so ``"true"`` stays ``"true"``.
    """
    runtime_settings.reset_options(project=PROJECT, stack=stack)
    monitor = monitor or RecordingMonitor(mocks)
    collector = _LogCollector()
    logger = logging.getLogger(f"offline-{id(collector)}")
    logger.addHandler(collector)
    logger.propagate = False
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, logger=logger, monitor=monitor)
    texts = ({f"{NAMESPACE}:{key}": json.dumps(value) for key, value in config.items()}
             if cli_config is None else dict(cli_config))
    pulumi.runtime.set_all_config(texts, [f"{NAMESPACE}:{key}" for key in secret_keys])
    return monitor, collector


def run_main() -> None:
    """The program exactly as ``pulumi up`` runs it."""
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def program_at(now: dt.datetime) -> Callable[[], None]:
    """The program as ``__main__.py`` wires it, with an injected "now" (end dates, renewal periods)."""

    def program() -> None:
        for name, value in from_stack_config(now=now).stack_outputs().items():
            pulumi.export(name, value)

    return program


def run_offline(mocks: OfflineEntra, config: Mapping[str, Any], stack: str = "dev",
                program: Callable[[], None] = run_main, secret_keys: Iterable[str] = (),
                monitor: RecordingMonitor | None = None,
                cli_config: Mapping[str, str] | None = None) -> ProgramRun:
    """Run ``program`` to completion under the mocks and return everything it did.

    Exceptions from the program (a ``SettingsError``, for instance) propagate; what was
    registered before one is still on ``mocks``' monitor, which tests read through
    ``LAST_RUN``. The run has event loops of its own, closed when it ends
    (``tools/offline/event_loops.py``: otherwise a loop left to the garbage collector can print
    ``Exception ignored in BaseEventLoop.__del__`` at exit).
    """
    with run_loops():  # configure() too: the root resource's futures belong to the run's loop
        monitor, collector = configure(mocks, config, stack, secret_keys, monitor, cli_config)
        run = ProgramRun(registrations=monitor.registrations, calls=mocks.calls, logs=collector.messages)
        LAST_RUN[:] = [run]

        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def _execute() -> pulumi.Output[Any]:
            program()
            stack_outputs: dict[str, Any] = runtime_settings.get_root_resource().outputs  # type: ignore[union-attr]

            async def _resolve() -> None:
                # As the SDK serializes the root stack's outputs for the engine: each value walked once, an
                # unknown output (a skipped create's, in a targeted update) as the engine's unknown sentinel in
                # its place, the rest known (the engine writes exactly that to the state).
                for name, value in stack_outputs.items():
                    secret: list[bool] = []
                    run.outputs[name] = await engine_value(value, secret)
                    if any(secret):
                        run.secret_outputs = run.secret_outputs | {name}

            return pulumi.Output.from_input(_resolve())

        _execute()
    return run


UNKNOWN = rpc.UNKNOWN
"""The engine's sentinel for a value not known: what it writes to the state for an unknown output."""


async def engine_value(value: Any, secret: list[bool]) -> Any:
    """An exported value as the engine receives it: outputs resolved, unknown ones as :data:`UNKNOWN` where
    they stand (``secret`` gets a True for each secret part)."""
    if isinstance(value, pulumi.Output):
        secret.append(await value.is_secret())
        if not await value.is_known():
            return UNKNOWN
        return await engine_value(await value.future(), secret)
    if isinstance(value, dict):
        return {key: await engine_value(item, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [await engine_value(item, secret) for item in value]
    return value


LAST_RUN: list[ProgramRun] = []
