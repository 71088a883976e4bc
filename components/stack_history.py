"""The last deploy's renewal record, read back from the running stack's own outputs, failing closed.

The renewal ledger (``components/ledger.py``) and the created provisioning app's service principal
(``components/replication_wait.py``: a principal deployed before and now gone was deleted) live in the
stack's own outputs; this is how the next run reads them back, through Pulumi alone: the engine's
built-in ``pulumi:pulumi:readStackOutputs`` invoke answers from the stack's last checkpoint, in
``pulumi preview`` as in ``pulumi up`` (under the mock engine, ``Mocks.call``). It registers no resource, so
several components in one program read without the duplicate URN two ``StackReference`` reads of one
name under parents of one type would make, and the state does not keep a copy of every output, secrets
included, as a ``StackReference`` does; the read is made once per program and shared.
``pulumi.runtime.invoke`` is the SDK's public, synchronous invoke, the one its own data sources use:
resources are declared from what it returns, so the value is needed when the program runs (declaring
them inside an ``apply`` would hide them from a preview).

**The component's own record.**  For a client the stack's outputs hold no record of (a program using the
component that exports nothing, or leaves an instance out), the component's own last registered outputs are
read instead (``components/own_record.py``).

**Failing closed.**  Only a client neither holds a record of is new.  A record that is there but cannot be
read (an output the engine stored as unknown reads back as missing, or unknown in a preview; a ledger
that is not one) stops the run before anything is registered, with :class:`HistoryUnreadable`: taken
for "no history", it would hand out new credentials and delete the ones consumers use.

The stack is ``<organization>/<project>/<stack>`` of the running program; a DIY backend's
organization is ``organization`` (what ``pulumi.get_organization()`` answers there, and what it
falls back to when the SDK has none, as under the mock engine).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

from components.ledger import calendar_ledger, read_ledger
from components.own_record import ABSENT, OwnRecord, read_once
from components.renewal import Form, Ledger, LedgerError

DIY_ORGANIZATION = "organization"
CLIENTS_OUTPUT = "clients"
LEDGER_OUTPUT = "renewalLedger"
READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
CREDENTIAL_TYPES = ("secret", "certificate", "federated", "managedIdentity")
"""The ``credentialType`` values a ``clients`` entry of this program holds (every version wrote one)."""
RECOVERY = ("docs/credentials-and-renewal.md, \"When the renewal record cannot be read\": restore the last good "
            f"`{LEDGER_OUTPUT}` and `{CLIENTS_OUTPUT}` outputs into the state, or hand the ledger in as the "
            f"`{LEDGER_OUTPUT}` arg")


class HistoryUnreadable(pulumi.RunError):
    """The last deploy's renewal record is there but cannot be read: the run stops before registering anything."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.stack = stack
        self.problems = problems
        lines = "".join(f"\n  - {p}" for p in problems)
        super().__init__(
            f"stack {stack}: the last deploy's renewal record cannot be read, so this deploy stops before "
            f"registering anything (nothing is created, changed or deleted):{lines}\nIt is never taken for "
            "\"no history\": that would hand out new credentials and delete the ones consumers use. Way out: "
            f"{RECOVERY}.")


@dataclass(frozen=True)
class Renewing:
    """A client whose credential the program renews, as its settings say."""

    form: Form
    lifetime_days: int
    rotation_days: int


def own_stack_name() -> str:
    """The fully qualified name of the stack being deployed."""
    organization = pulumi.get_organization() or DIY_ORGANIZATION
    return f"{organization}/{pulumi.get_project()}/{pulumi.get_stack()}"


def last_outputs() -> Any:
    """The running stack's last outputs as the engine stored them: one read per program, shared."""
    return read_once(READ_STACK_OUTPUTS, {"name": own_stack_name()})


def known_clients(outputs: Any) -> dict[str, Any]:
    """The ``clients`` map of a stack's outputs (``{}`` when there is none or it cannot be read)."""
    if not isinstance(outputs, Mapping):
        return {}
    clients = outputs.get(CLIENTS_OUTPUT)
    return {str(k): v for k, v in clients.items()} if isinstance(clients, Mapping) else {}


def _shown(value: Any) -> str:
    """What a stored output that is not a map was, in words."""
    if value is None or type(value).__name__ == "Unknown":
        return ("unknown: the engine stored it so (a `pulumi up --target`/`--exclude`, an errored "
                "`--continue-on-error` run, or `pulumi refresh --run-program` wrote over a value it did not know)")
    return f"a {type(value).__name__}, not a map by client key"


_ABSENT = object()
_MISSING: Any = object()
"""A client the record read holds nothing for (the next record is asked, or it is new)."""
OwnRead = Callable[[], "OwnRecord | str"]
"""Reads the component's own last registered outputs (``components/own_record.py``), only when needed."""


def renewal_ledgers(renewing: Mapping[str, Renewing], given: Mapping[str, Any] | None,
                    now: dt.datetime, own: OwnRead | None = None) -> dict[str, Ledger | None]:
    """Each renewing client's ledger from the last deploy (None: no history, a new credential).

    ``given`` is the package's ``renewalLedger`` arg when handed in (a map by client key of ledgers, or of the
    component's ``clients`` entries); otherwise the stack's own last outputs are read, and, for a client they hold
    no record of, the component's own last registered outputs (``own``).  Only a client neither holds is new.
    Raises :class:`HistoryUnreadable`, listing every problem, when a record is there but cannot be read.
    """
    if not renewing:
        return {}
    if given is not None:
        # Either shape, by client key: a ledger, or the component's `clients` entry that holds one.
        clients = {k: ({"renewal": v} if isinstance(v, Mapping) and "scheme" in v else v) for k, v in given.items()}
        found = _ledgers_in(_ABSENT, clients, renewing, now, "")
        return {key: None if found[key] is _MISSING else found[key] for key in renewing}
    outputs = last_outputs()
    if not isinstance(outputs, Mapping):
        raise HistoryUnreadable(own_stack_name(), [f"the stack's outputs are {_shown(outputs)}"])
    ledgers, clients = outputs.get(LEDGER_OUTPUT, _ABSENT), outputs.get(CLIENTS_OUTPUT, _ABSENT)
    neither = ledgers is _ABSENT and clients is _ABSENT
    if neither and outputs and own is None:
        raise HistoryUnreadable(own_stack_name(), [_NEITHER])
    found = dict.fromkeys(renewing, _MISSING) if neither else _ledgers_in(ledgers, clients, renewing, now, "")
    missing = {key: client for key, client in renewing.items() if found[key] is _MISSING}
    if missing and own is not None:
        record = own()
        if isinstance(record, str):
            raise HistoryUnreadable(own_stack_name(), [record])
        if record.outputs is ABSENT and neither and outputs:
            raise HistoryUnreadable(own_stack_name(), [
                _NEITHER + f"; nor has the component ({record.urn}) a record of its own in the state"])
        if record.outputs is not ABSENT:
            found.update(_own_ledgers(record, missing, now))
    return {key: None if found[key] is _MISSING else found[key] for key in renewing}


_NEITHER = (
    f"the stack has outputs, but neither `{LEDGER_OUTPUT}` nor `{CLIENTS_OUTPUT}` reads back: the engine "
    "stored them unknown (a `pulumi up --target`/`--exclude`, an errored `--continue-on-error` run or "
    "`pulumi refresh --run-program` wrote over values it did not know; the SDK reads an unknown output "
    "back as missing), or a program using the component exports them under other names (export them "
    f"under these, or pass its own last `{LEDGER_OUTPUT}` output back as the `{LEDGER_OUTPUT}` arg: "
    f"`{LEDGER_OUTPUT}: {{}}` on the component's first deploy in a stack that already has other outputs)")


def _own_ledgers(record: OwnRecord, missing: Mapping[str, Renewing], now: dt.datetime) -> dict[str, Any]:
    """The clients' ledgers from the component's own last registered outputs (``_MISSING``: none there, new)."""
    where = f"the component's own last outputs ({record.urn}): "
    outputs = record.outputs
    if not isinstance(outputs, Mapping):
        raise HistoryUnreadable(own_stack_name(), [f"{where}they are {_shown(outputs)}"])
    if not outputs:
        # A component's state keeps its last registered outputs until it registers new ones (pulumi step.go,
        # SameStep); it has none only when the run that created it never got to register them, and so handed
        # nothing out.
        return dict.fromkeys(missing, _MISSING)
    ledgers, clients = outputs.get(LEDGER_OUTPUT, _ABSENT), outputs.get(CLIENTS_OUTPUT, _ABSENT)
    if ledgers is _ABSENT and clients is _ABSENT:
        raise HistoryUnreadable(own_stack_name(), [
            f"{where}neither `{LEDGER_OUTPUT}` nor `{CLIENTS_OUTPUT}` reads back (the engine stored them unknown)"])
    return _ledgers_in(ledgers, clients, missing, now, where)


def _ledgers_in(ledgers: Any, clients: Any, renewing: Mapping[str, Renewing], now: dt.datetime,
                where: str) -> dict[str, Any]:
    """The clients' ledgers in one record (its ``renewalLedger`` and ``clients``; ``_ABSENT`` for one it lacks):
    ``_MISSING`` for a client it holds nothing of.  Raises :class:`HistoryUnreadable` for what cannot be read."""
    problems: list[str] = []
    if ledgers is not _ABSENT and not isinstance(ledgers, Mapping):
        problems.append(f"{where}the `{LEDGER_OUTPUT}` output is {_shown(ledgers)}")
    elif ledgers is _ABSENT and not isinstance(clients, Mapping):
        problems.append(f"{where}the `{CLIENTS_OUTPUT}` output is {_shown(clients)}")
    if problems:
        raise HistoryUnreadable(own_stack_name(), problems)
    found: dict[str, Any] = {}
    for key, client in renewing.items():
        try:
            if not isinstance(ledgers, Mapping):
                found[key] = _from_clients_output(key, clients, client, now)
            elif key in ledgers:
                found[key] = read_ledger(ledgers[key], client.form)
            elif isinstance(clients, Mapping) and _ledger_lost(clients.get(key)):
                raise LedgerError("a deployed credential without its renewal record (not in `renewalLedger`)")
            else:
                found[key] = _MISSING  # not renewed by the last deploy: a new client, or a new form of credential
        except LedgerError as error:
            problems.append(f"{where}clients.{key}: {error}")
    if problems:
        raise HistoryUnreadable(own_stack_name(), problems)
    return found


def _from_clients_output(key: str, clients: Mapping[str, Any], client: Renewing, now: dt.datetime) -> Any:
    """A client's ledger from a ``clients`` output (a stack deployed before ``renewalLedger`` existed)."""
    entry = clients.get(key)
    if entry is None and key not in clients:
        return _MISSING  # not deployed before: a new client
    if not isinstance(entry, Mapping):
        raise LedgerError(f"its entry in the `{CLIENTS_OUTPUT}` output is {_shown(entry)}")
    if entry.get("credentialType") not in CREDENTIAL_TYPES:
        # Not an entry the program writes (hand-edited, another program's, `{}` handed in): read as "no credential of
        # this form", it would make a new one and delete the one deployed.
        raise LedgerError(f"its entry in the `{CLIENTS_OUTPUT}` output has the credentialType "
                          f"{entry.get('credentialType')!r}, not one of {', '.join(CREDENTIAL_TYPES)}")
    if "renewal" in entry:
        return read_ledger(entry["renewal"], client.form)
    if _ledger_lost(entry):
        raise LedgerError("a deployed credential without its renewal record (`renewal`)")
    return calendar_ledger(entry, client.form, now, client.lifetime_days, client.rotation_days)


def _ledger_lost(entry: Any) -> bool:
    """A ``clients`` entry of a credential the program renews, from a version that wrote its ledger.

    ``credentialKeyIds`` came with the ledger: a secret (or a generated certificate, which has a renewal date)
    that lists them but has no ledger has lost it; without them, the calendar version deployed it.
    """
    return isinstance(entry, Mapping) and "credentialKeyIds" in entry and (
        entry.get("credentialType") == "secret"
        or (entry.get("credentialType") == "certificate" and "credentialRenewsAt" in entry))


# -- the package: history handed in by the consumer -----------------------------------------------

RENEWAL_LEDGER_ARG = LEDGER_OUTPUT
RENEWAL_LEDGER_ALLOWED = ("a map by client key, as the last deploy's `renewalLedger` (or `clients`) output of this "
                          "component, known when the component is constructed; `{}` for no history")


def split_renewal_ledger(args: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    """The args without ``renewalLedger``; its value as history (None: not given); what is wrong with it.

    A consumer may pass another resource's output (its own ``StackReference``): it is awaited here (the SDK's
    ``_sync_await``, which keeps the event loop turning since pulumi 3.233: the floor in requirements.txt);
    an unknown value is refused rather than taken as no history.  A null (the output does not exist yet, or
    was stored unknown) counts as not given: the stack's own outputs decide.
    """
    rest = {k: v for k, v in args.items() if k != RENEWAL_LEDGER_ARG}
    if RENEWAL_LEDGER_ARG not in args:
        return rest, None, None
    value = args[RENEWAL_LEDGER_ARG]
    if isinstance(value, pulumi.Output):
        value = _sync_await(_resolve(value))
        if value is _UNKNOWN:
            return rest, None, "an unknown value (an output not known yet)"
    if value is None:
        return rest, None, None
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        return rest, None, f"{type(value).__name__} value"
    return rest, {str(k): dict(v) for k, v in value.items()}, None


_UNKNOWN = object()


async def _resolve(output: pulumi.Output[Any]) -> Any:
    """The output's value, or ``_UNKNOWN`` when the engine cannot tell it (a preview's unknown)."""
    if not await output.is_known():
        return _UNKNOWN
    return await output.future()
