"""Read-only Microsoft Graph access, shared by `make adopt`, `make audit` and `make verify --deployer`.

azure-identity's ``DefaultAzureCredential`` (``az login``, a pipeline's OIDC sign-in, a managed
identity) and an azure-core ``PipelineClient``: the same stack ``tools/verify/verify.py`` uses, so tests
replace Graph at azure-core's HTTP transport. Every request is a ``GET``; nothing is changed.

Graph's answers are read the way Graph documents them: collections are ``{"value": [...]}``
pages chained by ``@odata.nextLink``; errors are ``{"error": {"code", "message"}}``; a throttled
request (429, or 503/504 under load) is sent again after its ``Retry-After`` seconds, a bounded
number of times; an object deleted between two reads answers 404 (:class:`ObjectGoneError`); a read
the signed-in identity may not make answers 403 (:class:`ReadRefusedError`).

Every query value is URL-encoded here (azure-core passes ``params`` into the URL as given, so an
``&`` or ``#`` in a display name would end the filter and start another parameter), and every path
segment built from a value is percent-encoded (:func:`segment`).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.pipeline.transport import HttpRequest as TransportRequest
from azure.core.pipeline.transport import HttpResponse as TransportResponse
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest

from components.microsoft import GRAPH_APP_ID, GRAPH_BASE_URL, GRAPH_SCOPE
from components.settings.model import GUID_RE
from tools.tenant.sign_in import first_line, sign_in_failure

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
# Throttling: Graph answers 429 (or 503/504) with Retry-After seconds. At most this many tries per
# request, and never a wait longer than MAX_WAIT_SECONDS (a longer Retry-After fails the run instead).
THROTTLED = (429, 503, 504)
MAX_ATTEMPTS = 5
MAX_WAIT_SECONDS = 120.0


class GraphAccessError(Exception):
    """Sign-in failed, or Graph refused a read: the caller exits 2 with this message."""


class ObjectGoneError(GraphAccessError):
    """Graph answered 404: the object was deleted (or never replicated here) between two reads."""


class ReadRefusedError(GraphAccessError):
    """Graph answered 403: the signed-in identity may not make this read (``code``: Graph's error code)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


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


# Kept as they are in a query value: none of them ends a value or a parameter (& = # + % and space do).
_QUERY_SAFE = "$',()/:@"


def segment(value: str) -> str:
    """A value as one URL path segment: every character that could end or leave it percent-encoded."""
    return urllib.parse.quote(value, safe="")


def query(params: Mapping[str, str]) -> str:
    """``params`` as a query string, every value URL-encoded (the names are Graph's own ``$filter``...)."""
    return "&".join(f"{name}={urllib.parse.quote(value, safe=_QUERY_SAFE)}" for name, value in params.items())


class GraphReader:
    """GET requests to Microsoft Graph v1.0 as the signed-in deployer."""

    def __init__(self, credential: TokenCredential, transport: Transport | None = None, *,
                 sleep: Callable[[float], None] = time.sleep, permission_hint: str = PERMISSION_HINT) -> None:
        # azure-core retries connection errors only; throttled answers are retried in `get`, bounded.
        policies = [RetryPolicy(retry_total=2, retry_status=0), BearerTokenCredentialPolicy(credential, GRAPH_SCOPE)]
        self._client: PipelineClient[Any, Any] = PipelineClient(
            base_url=GRAPH_BASE_URL, policies=policies, transport=transport)
        self._sleep, self._permission_hint = sleep, permission_hint
        self._graph_roles: dict[str, str] | None = None
        self._graph_object_id: str | None = None

    def get(self, url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One JSON document; ``url`` is a path under v1.0 or an absolute ``@odata.nextLink``."""
        full = url if url.startswith("https://") else f"{GRAPH_BASE_URL}{url}"
        shown = full.removeprefix(GRAPH_BASE_URL).partition("?")[0]
        if params:
            full = f"{full}{'&' if '?' in full else '?'}{query(params)}"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self._client.send_request(HttpRequest("GET", full))
            except ClientAuthenticationError as error:
                raise GraphAccessError(sign_in_failure(error)) from error
            except AzureError as error:  # unreachable after azure-core's retries: DNS, proxy, TLS, reset
                raise GraphAccessError(f"Microsoft Graph unreachable for GET {shown} ({first_line(error)}); run "
                                       "again later") from error
            if response.status_code not in THROTTLED:
                break
            wait = _retry_after(response, attempt)
            if attempt == MAX_ATTEMPTS or wait > MAX_WAIT_SECONDS:
                raise GraphAccessError(f"Microsoft Graph is throttling GET {shown} ({response.status_code}, "
                                       f"Retry-After {wait:g}s after {attempt} tries); run again later")
            self._sleep(wait)
        if response.status_code in (401, 403):
            code = _error_code(response)
            message = f"Microsoft Graph refused GET {shown} ({response.status_code} {code}): {self._permission_hint}"
            if response.status_code == 403:
                raise ReadRefusedError(message, code)
            raise GraphAccessError(message)
        if response.status_code == 404:
            raise ObjectGoneError(f"GET {shown} answered 404 {_error_code(response)}: the object is gone (deleted "
                             "since it was listed, or not replicated yet)")
        if response.status_code >= 400:
            raise GraphAccessError(f"Microsoft Graph answered {response.status_code} {_error_code(response)} "
                                   f"to GET {shown}")
        try:
            document = json.loads(response.text())
        except ValueError as error:
            raise GraphAccessError(f"Microsoft Graph answered GET {shown} with a body that is not JSON") from error
        if not isinstance(document, dict):
            raise GraphAccessError(f"Microsoft Graph answered GET {shown} with JSON that is not an object")
        return document

    def collection(self, url: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following ``@odata.nextLink`` page by page.

        A next link must stay on Graph (the bearer token goes with it) and must not repeat one
        already followed: either would otherwise send the token elsewhere or loop for ever.
        """
        page = self.get(url, params)
        followed: set[str] = set()
        while True:
            yield from page.get("value", [])
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            link = str(next_link)
            shown = link.partition("?")[0][:200]
            if not link.startswith(f"{GRAPH_BASE_URL}/"):
                raise GraphAccessError(f"Microsoft Graph answered an @odata.nextLink off {GRAPH_BASE_URL} "
                                       f"({shown}); not followed")
            if link in followed:
                raise GraphAccessError(f"Microsoft Graph answered an @odata.nextLink already followed ({shown}): "
                                       "the paging loops; run again later")
            followed.add(link)
            page = self.get(link)

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
        return list(self.collection(f"/{collection}/{segment(object_id)}/owners", params))

    def app_role_assignments(self, principal_id: str) -> list[AppRoleAssignment]:
        """Every app role the principal holds, on any resource (paged)."""
        return [AppRoleAssignment(a["id"], a["appRoleId"], a["resourceId"], a.get("resourceDisplayName") or "",
                                  a.get("createdDateTime") or "")
                for a in self.collection(f"/servicePrincipals/{segment(principal_id)}/appRoleAssignments")]

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

    # -- what make audit reads besides (key metadata only: Graph never returns a secret's text on a GET)

    def principal_with_credentials(self, object_id: str) -> dict[str, Any] | None:
        """The service principal with its own password and key credentials, or None when it is gone."""
        params = {"$filter": f"id eq {odata_literal(object_id)}",
                  "$select": f"{PRINCIPAL_FIELDS},passwordCredentials,keyCredentials"}
        found = list(self.collection("/servicePrincipals", params))
        return found[0] if found else None

    def application_by_app_id(self, app_id: str) -> dict[str, Any]:
        """One app registration, read alone by its client id, so Graph returns each certificate's ``key``
        (the certificate itself: its thumbprint cannot be chosen, unlike ``customKeyIdentifier``).
        Raises :class:`ObjectGoneError` when there is none."""
        if not GUID_RE.match(app_id):
            raise GraphAccessError(f"not a client id (a GUID): {app_id[:60]!r}")
        return self.get(f"/applications(appId='{app_id}')", {"$select": APPLICATION_FIELDS})

    def federated_credentials(self, application_id: str) -> list[dict[str, Any]]:
        """The federated identity credentials of an app registration (Graph v1.0 keeps them there only)."""
        params = {"$select": "id,name,issuer,subject,audiences"}
        return list(self.collection(f"/applications/{segment(application_id)}/federatedIdentityCredentials", params))

    def delegated_grants(self, principal_id: str) -> list[dict[str, Any]]:
        """The principal's oauth2PermissionGrants: delegated permissions, as a client, on any API."""
        return list(self.collection(f"/servicePrincipals/{segment(principal_id)}/oauth2PermissionGrants"))

    def directory_roles(self, principal_id: str) -> list[dict[str, Any]]:
        """Directory (Entra) role assignments held directly by the principal, with the role's name."""
        params = {"$filter": f"principalId eq {odata_literal(principal_id)}", "$expand": "roleDefinition"}
        return list(self.collection("/roleManagement/directory/roleAssignments", params))

    def assigned_to_graph(self) -> Iterator[dict[str, Any]]:
        """Every app role assignment on Microsoft Graph, tenant-wide, page by page (999 a page)."""
        return self.collection(f"/servicePrincipals(appId='{GRAPH_APP_ID}')/appRoleAssignedTo", {"$top": "999"})


def _retry_after(response: Any, attempt: int) -> float:
    """Graph's ``Retry-After`` (seconds), or an exponential backoff when it sends none."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except (TypeError, ValueError):
        return float(2 ** attempt)


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
