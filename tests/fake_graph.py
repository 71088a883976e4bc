"""A stand-in for Microsoft Graph v1.0 at azure-core's HTTP transport, answering the way Graph does.

Collections come as ``{"@odata.context", "value": [...]}`` pages of ``page_size`` items chained by
an absolute ``@odata.nextLink``; refusals as ``{"error": {"code", "message", "innerError"}}``.
Only ``GET`` is served: the tools that use it must never change the tenant.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import HttpRequest, HttpResponse, HttpTransport

from components.microsoft import GRAPH_APP_ID

BASE = "https://graph.microsoft.com/v1.0"
TOKEN = "fake-deployer-token-never-printed"


class FakeResponse(HttpResponse):
    def __init__(self, request: HttpRequest, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(request, None)
        self.status_code = status
        self._body = json.dumps(payload).encode()
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.content_type = "application/json"
        self.reason = "OK" if status < 400 else "Forbidden" if status == 403 else "Error"

    def body(self) -> bytes:
        return self._body


class FakeCredential:
    """The deployer's sign-in (``az login``), as azure-core's bearer policy uses it."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        assert scopes == ("https://graph.microsoft.com/.default",)
        return AccessToken(TOKEN, int(dt.datetime.now(dt.UTC).timestamp()) + 3600)


class SignedOutCredential:
    """DefaultAzureCredential with nobody signed in."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token from the included "
                                        "credentials.\nAzureCliCredential: Please run 'az login' to set up an account")


@dataclass
class Tenant:
    """Directory objects, as Graph returns them."""

    applications: list[dict[str, Any]] = field(default_factory=list)
    service_principals: list[dict[str, Any]] = field(default_factory=list)
    assignments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """By principal object id."""
    owners: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """By owned object id."""
    federated: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Federated identity credentials, by application object id."""
    delegated: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """oauth2PermissionGrants, by client service principal object id."""
    directory_roles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Directory role assignments, by principal id."""
    eligible: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """PIM-eligible directory role assignments (roleEligibilitySchedules), by principal id."""
    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)
    """Group members' object ids, by group id."""
    deleted: set[str] = field(default_factory=set)
    """Object ids still listed, whose own reads answer 404: deleted between two reads."""
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Synchronization jobs, by ``<service principal id>/<job id>``."""
    synchronization_secrets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Synchronization secrets (key/value pairs), by service principal id."""

    def directory_object(self, object_id: str) -> dict[str, Any]:
        """A user, group or service principal as Graph returns it in owners, members and ``$expand=principal``."""
        for kind, objects in (("user", self.users), ("group", self.groups), ("servicePrincipal",
                                                                              self.service_principals)):
            for found in objects:
                if found["id"] == object_id:
                    return {"@odata.type": f"#microsoft.graph.{kind}", **{
                        k: v for k, v in found.items() if k in ("id", "displayName", "userPrincipalName", "appId")}}
        return {"@odata.type": "#microsoft.graph.directoryObject", "id": object_id}


def graph_principal(object_id: str, roles: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": object_id, "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph",
            "servicePrincipalType": "Application", "accountEnabled": True,
            "appRoles": [{"id": r["id"], "value": r["value"], "isEnabled": True,
                          "allowedMemberTypes": r.get("allowedMemberTypes", ["Application"])} for r in roles]}


def assignment(assignment_id: str, principal: dict[str, Any], resource: dict[str, Any], role_id: str) -> dict[str, Any]:
    return {"id": assignment_id, "deletedDateTime": None, "appRoleId": role_id,
            "createdDateTime": "2025-03-04T10:11:12.1234567Z", "principalDisplayName": principal["displayName"],
            "principalId": principal["id"], "principalType": "ServicePrincipal",
            "resourceDisplayName": resource["displayName"], "resourceId": resource["id"]}


class FakeTransport(HttpTransport[HttpRequest, HttpResponse]):
    """An azure-core transport that sends nothing: subclasses answer in ``send``."""

    def __enter__(self) -> FakeTransport:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        raise NotImplementedError


class FakeGraph(FakeTransport):
    """Serves ``tenant`` over GET; ``refuse`` lists path patterns answered 403; ``throttle`` answers the
    first N requests to a path pattern 429 with ``Retry-After``, as Graph does under load."""

    def __init__(self, tenant: Tenant, *, page_size: int = 2, refuse: tuple[str, ...] = (),
                 throttle: dict[str, int] | None = None, retry_after: str = "7",
                 lagging: dict[str, int] | None = None) -> None:
        self.tenant, self.page_size, self.refuse = tenant, page_size, refuse
        self.throttle, self.retry_after = dict(throttle or {}), retry_after
        self.lagging = dict(lagging or {})
        """Path pattern -> how many reads answer 404 before the object has replicated here."""
        self.requests: list[str] = []

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        assert request.method == "GET", f"a read-only tool sent {request.method} {request.url}"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        parsed = urllib.parse.urlsplit(request.url)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        path = urllib.parse.unquote(parsed.path.removeprefix("/v1.0"))
        self.requests.append(urllib.parse.unquote(f"{path}?{parsed.query}" if parsed.query else path))
        for pattern, left in self.throttle.items():
            if left and re.fullmatch(pattern, path):
                self.throttle[pattern] = left - 1
                refusal = {"error": {"code": "TooManyRequests", "message": "Too many requests"}}
                return FakeResponse(request, 429, refusal, {"Retry-After": self.retry_after})
        for pattern, left in self.lagging.items():
            if left and re.fullmatch(pattern, path):
                self.lagging[pattern] = left - 1
                return _not_found(request, path)
        gone = re.fullmatch(r"/(?:applications|servicePrincipals)/([0-9a-f-]+)/\w+", path)
        if gone and gone.group(1) in self.tenant.deleted:
            return _not_found(request, gone.group(1))
        single = re.fullmatch(r"/applications\(appId='([0-9a-f-]+)'\)", path)
        if single and not any(re.fullmatch(pattern, path) for pattern in self.refuse):
            found = [a for a in self.tenant.applications if a["appId"] == single.group(1)]
            if not found or found[0]["id"] in self.tenant.deleted:
                return _not_found(request, single.group(1))
            return FakeResponse(request, 200, {"@odata.context": f"{BASE}/$metadata#applications/$entity",
                                               **found[0]})
        if any(re.fullmatch(pattern, path) for pattern in self.refuse):
            return FakeResponse(request, 403, {"error": {
                "code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation.",
                "innerError": {"date": "2026-11-27T09:30:00", "request-id": "0000"}}})
        job = re.fullmatch(r"/servicePrincipals/([0-9a-f-]+)/synchronization/jobs/([\w.-]+)", path)
        if job:  # one object, not a collection
            record = self.tenant.jobs.get(f"{job.group(1)}/{job.group(2)}")
            if record is None:
                return FakeResponse(request, 404, {"error": {"code": "ResourceNotFound", "message": "not found"}})
            return FakeResponse(request, 200, {"@odata.context": f"{BASE}/$metadata#synchronizationJob", **record})
        items, context = self._collection(path, query)
        if items is None:
            return FakeResponse(request, 404, {"error": {"code": "Request_ResourceNotFound",
                                                         "message": f"Resource '{path}' does not exist"}})
        start = int(query.get("$skiptoken", "0"))
        page: dict[str, Any] = {"@odata.context": f"{BASE}/$metadata#{context}",
                                "value": items[start:start + self.page_size]}
        if start + self.page_size < len(items):
            rest = {k: v for k, v in query.items() if k != "$skiptoken"}
            rest["$skiptoken"] = str(start + self.page_size)
            page["@odata.nextLink"] = f"{BASE}{path}?{urllib.parse.urlencode(rest)}"
        return FakeResponse(request, 200, page)

    def _collection(self, path: str, query: dict[str, str]) -> tuple[list[dict[str, Any]] | None, str]:
        tenant = self.tenant
        if path in ("/applications", "/servicePrincipals"):
            objects = tenant.applications if path == "/applications" else tenant.service_principals
            match = re.fullmatch(r"(\w+) eq '(.*)'", query.get("$filter", ""))
            assert match, f"unexpected filter {query.get('$filter')!r}"
            attribute, value = match.group(1), match.group(2).replace("''", "'")
            return [o for o in objects if str(o.get(attribute, "")).casefold() == value.casefold()], path[1:]
        match = re.fullmatch(r"/servicePrincipals/([0-9a-f-]+)/appRoleAssignments", path)
        if match:
            if not any(sp["id"] == match.group(1) for sp in tenant.service_principals):
                return None, ""
            return tenant.assignments.get(match.group(1), []), "appRoleAssignments"
        match = re.fullmatch(r"/(applications|servicePrincipals)/([0-9a-f-]+)/owners", path)
        if match:
            return tenant.owners.get(match.group(2), []), "directoryObjects"
        match = re.fullmatch(r"/applications/([0-9a-f-]+)/federatedIdentityCredentials", path)
        if match:
            return tenant.federated.get(match.group(1), []), "federatedIdentityCredentials"
        match = re.fullmatch(r"/servicePrincipals/([0-9a-f-]+)/synchronization/secrets", path)
        if match:
            return tenant.synchronization_secrets.get(match.group(1)), "synchronizationSecretKeyStringValuePair"
        match = re.fullmatch(r"/servicePrincipals/([0-9a-f-]+)/oauth2PermissionGrants", path)
        if match:
            return tenant.delegated.get(match.group(1), []), "oauth2PermissionGrants"
        if path in ("/roleManagement/directory/roleAssignments", "/roleManagement/directory/roleEligibilitySchedules"):
            held = tenant.directory_roles if path.endswith("roleAssignments") else tenant.eligible
            match = re.fullmatch(r"(principalId|roleDefinitionId) eq '([0-9a-f-]+)'", query.get("$filter", ""))
            assert match, f"unexpected filter {query.get('$filter')!r}"
            found = (list(held.get(match.group(2), [])) if match.group(1) == "principalId"
                     else [a for every in held.values() for a in every if a["roleDefinitionId"] == match.group(2)])
            if query.get("$expand") == "principal":
                found = [{**a, "principal": tenant.directory_object(a["principalId"])} for a in found]
            return found, path[1:]
        match = re.fullmatch(r"/groups/([0-9a-f-]+)/(members|owners)", path)
        if match:
            ids = (tenant.members.get(match.group(1), []) if match.group(2) == "members"
                   else [o["id"] for o in tenant.owners.get(match.group(1), [])])
            return [tenant.directory_object(i) for i in ids], "directoryObjects"
        match = re.fullmatch(r"/servicePrincipals/([0-9a-f-]+)/ownedObjects", path)
        if match:
            owned = [i for i, owners in tenant.owners.items() if any(o["id"] == match.group(1) for o in owners)]
            objects = [{"@odata.type": "#microsoft.graph.application", **a} for a in tenant.applications
                       if a["id"] in owned]
            return objects + [tenant.directory_object(i) for i in owned
                              if i not in {a["id"] for a in tenant.applications}], "directoryObjects"
        if path == "/oauth2PermissionGrants":
            match = re.fullmatch(r"resourceId eq '([0-9a-f-]+)'", query.get("$filter", ""))
            assert match, f"unexpected filter {query.get('$filter')!r}"
            return [g for every in tenant.delegated.values() for g in every
                    if g["resourceId"] == match.group(1)], "oauth2PermissionGrants"
        if path == f"/servicePrincipals(appId='{GRAPH_APP_ID}')/appRoleAssignedTo":
            graph = next(sp["id"] for sp in tenant.service_principals if sp["appId"] == GRAPH_APP_ID)
            every = [a for held in tenant.assignments.values() for a in held if a["resourceId"] == graph]
            return every, "appRoleAssignments"
        raise AssertionError(f"unexpected request GET {path}")


def _not_found(request: HttpRequest, what: str) -> FakeResponse:
    return FakeResponse(request, 404, {"error": {"code": "Request_ResourceNotFound",
                                                 "message": f"Resource '{what}' does not exist"}})
