"""Read-only Microsoft Graph access as the deployer, shared by `make adopt` and `make verify --deployer`.

azure-identity's ``DefaultAzureCredential`` (``az login``, a pipeline's OIDC sign-in, a managed
identity) and an azure-core ``PipelineClient``: the same stack ``tools/verify.py`` uses, so tests
replace Graph at azure-core's HTTP transport. Every request is a ``GET``; nothing is changed.

Graph's answers are read the way Graph documents them: collections are ``{"value": [...]}``
pages chained by ``@odata.nextLink``; errors are ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.pipeline.transport import HttpRequest as TransportRequest
from azure.core.pipeline.transport import HttpResponse as TransportResponse
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest

from components.microsoft import GRAPH_APP_ID, GRAPH_BASE_URL, GRAPH_SCOPE
from tools.sign_in import sign_in_failure

Transport = HttpTransport[TransportRequest, TransportResponse]

# What the reads need. A pipeline's service principal: the application permission; a person:
# any directory role that can read applications (Directory Readers is the least).
READ_PERMISSION = "Application.Read.All"
PERMISSION_HINT = (f"the signed-in identity needs Microsoft Graph {READ_PERMISSION} (a pipeline's service "
                   "principal: that application permission, admin-consented; a person: a directory role "
                   "that can read applications, such as Directory Readers)")
APPLICATION_FIELDS = ("id,appId,displayName,notes,signInAudience,requiredResourceAccess,passwordCredentials,"
                      "keyCredentials,web,spa,publicClient,identifierUris,appRoles,createdDateTime")
PRINCIPAL_FIELDS = "id,appId,displayName,servicePrincipalType,accountEnabled"


class GraphAccessError(Exception):
    """Sign-in failed, or Graph refused a read: the caller exits 2 with this message."""


@dataclass(frozen=True)
class AppRoleAssignment:
    """One app role a principal holds on some resource (for us: Microsoft Graph)."""

    id: str
    app_role_id: str
    resource_id: str
    resource_display_name: str
    created: str


def odata_literal(value: str) -> str:
    """A string literal for ``$filter``: single quotes doubled, as OData requires."""
    return "'" + value.replace("'", "''") + "'"


class GraphReader:
    """GET requests to Microsoft Graph v1.0 as the signed-in deployer."""

    def __init__(self, credential: TokenCredential, transport: Transport | None = None) -> None:
        policies = [RetryPolicy(retry_total=2), BearerTokenCredentialPolicy(credential, GRAPH_SCOPE)]
        self._client: PipelineClient[Any, Any] = PipelineClient(
            base_url=GRAPH_BASE_URL, policies=policies, transport=transport)
        self._graph_roles: dict[str, str] | None = None
        self._graph_object_id: str | None = None

    def get(self, url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One JSON document; ``url`` is a path under v1.0 or an absolute ``@odata.nextLink``."""
        full = url if url.startswith("https://") else f"{GRAPH_BASE_URL}{url}"
        shown = full.removeprefix(GRAPH_BASE_URL).partition("?")[0]
        try:
            response = self._client.send_request(HttpRequest("GET", full, params=dict(params or {})))
        except ClientAuthenticationError as error:
            raise GraphAccessError(sign_in_failure(error)) from error
        if response.status_code in (401, 403):
            code = _error_code(response)
            raise GraphAccessError(f"Microsoft Graph refused GET {shown} ({response.status_code} "
                                   f"{code}): {PERMISSION_HINT}")
        if response.status_code == 404:
            return {}
        if response.status_code >= 400:
            raise GraphAccessError(f"Microsoft Graph answered {response.status_code} {_error_code(response)} "
                                   f"to GET {shown}")
        document: dict[str, Any] = json.loads(response.text())
        return document

    def collection(self, url: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following ``@odata.nextLink`` page by page."""
        page = self.get(url, params)
        while True:
            yield from page.get("value", [])
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            page = self.get(str(next_link))

    # -- what the tools read ---------------------------------------------------------------

    def applications(self, by: str, value: str) -> list[dict[str, Any]]:
        """App registrations whose ``by`` (``displayName``, ``appId`` or ``id``) equals ``value``."""
        params = {"$filter": f"{by} eq {odata_literal(value)}", "$select": APPLICATION_FIELDS}
        return list(self.collection("/applications", params))

    def service_principals(self, by: str, value: str) -> list[dict[str, Any]]:
        """Service principals whose ``by`` (``displayName``, ``appId`` or ``id``) equals ``value``."""
        params = {"$filter": f"{by} eq {odata_literal(value)}", "$select": PRINCIPAL_FIELDS}
        return list(self.collection("/servicePrincipals", params))

    def owners(self, collection: str, object_id: str) -> list[dict[str, Any]]:
        """Owners of an application or service principal (``collection``: applications, servicePrincipals)."""
        params = {"$select": "id,displayName,userPrincipalName,appId"}
        return list(self.collection(f"/{collection}/{object_id}/owners", params))

    def app_role_assignments(self, principal_id: str) -> list[AppRoleAssignment]:
        """Every app role the principal holds, on any resource (paged)."""
        return [AppRoleAssignment(a["id"], a["appRoleId"], a["resourceId"], a.get("resourceDisplayName") or "",
                                  a.get("createdDateTime") or "")
                for a in self.collection(f"/servicePrincipals/{principal_id}/appRoleAssignments")]

    def microsoft_graph(self) -> tuple[str, dict[str, str]]:
        """Graph's service principal object id, and its app role values by role id."""
        if self._graph_object_id is None or self._graph_roles is None:
            found = list(self.collection("/servicePrincipals", {"$filter": f"appId eq {odata_literal(GRAPH_APP_ID)}",
                                                          "$select": "id,appRoles"}))
            if not found:
                raise GraphAccessError("Microsoft Graph's service principal was not found in this tenant")
            self._graph_object_id = str(found[0]["id"])
            self._graph_roles = {r["id"]: r["value"] for r in found[0].get("appRoles", [])}
        return self._graph_object_id, self._graph_roles

    def graph_grants(self, principal_id: str) -> tuple[dict[str, AppRoleAssignment], list[str]]:
        """The principal's Microsoft Graph application permissions, by value, and its other assignments, named."""
        graph_id, roles = self.microsoft_graph()
        on_graph: dict[str, AppRoleAssignment] = {}
        other: list[str] = []
        for assignment in self.app_role_assignments(principal_id):
            if assignment.resource_id == graph_id and assignment.app_role_id in roles:
                on_graph[roles[assignment.app_role_id]] = assignment
            else:
                other.append(f"{assignment.resource_display_name or assignment.resource_id}: "
                             f"app role {assignment.app_role_id}")
        return on_graph, other


def _error_code(response: Any) -> str:
    try:
        error = json.loads(response.text()).get("error", {})
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def deployer_credential() -> TokenCredential:
    """The deployer's sign-in: Azure CLI, environment, workload identity or managed identity."""
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415 (slow import, only when signing in)

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)
