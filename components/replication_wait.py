"""A one-time wait for a new service principal to replicate through Entra.

A Pulumi dynamic resource: its provider is this Python code, run by the Pulumi engine, so it
needs no provider plugin and no package beyond the Pulumi SDK (a third-party time provider would
bring both, and its Python SDK is published without wheels, which a hash-checked, binary-only
install refuses).  It sleeps when it is created, and again only when the service principal it
waits for changes (a replaced app); every other run finds it unchanged and does not wait.
"""

from __future__ import annotations

import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

TYPE = "pulumi-python:dynamic:Resource"


class _ReplicationWaitProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(int(props["seconds"]))
        return CreateResult(id_=str(props["servicePrincipalObjectId"]), outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["servicePrincipalObjectId"] if olds.get("servicePrincipalObjectId") != news.get(
            "servicePrincipalObjectId") else []
        changed = bool(replaces) or olds.get("seconds") != news.get("seconds")
        return DiffResult(changes=changed, replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=news)  # a new duration applies to the next new service principal


class ReplicationWait(pulumi.dynamic.Resource):
    """Waits ``seconds`` once a service principal exists, before what reads it is created."""

    def __init__(self, name: str, service_principal_object_id: pulumi.Input[str], seconds: int,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(_ReplicationWaitProvider(), name,
                         {"servicePrincipalObjectId": service_principal_object_id, "seconds": seconds}, opts)
