"""The Graph reader: every query value URL-encoded, path segments too, and a refused read told apart."""

from __future__ import annotations

import pytest

from tests.fake_graph import FakeCredential, FakeGraph, Tenant
from tools.tenant.graph_reader import GraphAccessError, GraphReader, ReadRefusedError, query, segment

NAME = "HR & payroll #1 + 50% 'sync'"


def test_a_display_name_cannot_end_the_filter_or_add_a_parameter() -> None:
    app = {"id": "0a000000-0000-4000-8000-000000000001", "appId": "0a000000-0000-4000-8000-000000000002",
           "displayName": NAME}
    graph = FakeGraph(Tenant(applications=[app]))
    reader = GraphReader(FakeCredential(), graph)
    assert [a["id"] for a in reader.applications("displayName", NAME)] == [app["id"]]
    assert reader.applications("displayName", "HR ") == [], "the name is matched whole, not cut at the &"
    assert graph.requests[0] == ("/applications?$filter=displayName eq 'HR & payroll #1 + 50% ''sync'''"
                                 "&$select=id,appId,displayName,notes,signInAudience,requiredResourceAccess,"
                                 "passwordCredentials,keyCredentials,web,spa,publicClient,identifierUris,appRoles,"
                                 "createdDateTime")
    assert "%26" in query({"$filter": "a & b"})
    assert "#" not in query({"$filter": "a # b"})


def test_path_segments_are_encoded_and_client_ids_must_be_guids() -> None:
    assert segment("../users?$top=1#") == "..%2Fusers%3F%24top%3D1%23"
    reader = GraphReader(FakeCredential(), FakeGraph(Tenant()))
    with pytest.raises(GraphAccessError, match="not a client id"):
        reader.application_by_app_id("x') or (appId eq 'y")


def test_a_refused_read_is_its_own_error_with_graphs_code() -> None:
    graph = FakeGraph(Tenant(), refuse=(r"/groups/.*/members",))
    reader = GraphReader(FakeCredential(), graph)
    with pytest.raises(ReadRefusedError) as refused:
        reader.get("/groups/0a000000-0000-4000-8000-000000000003/members")
    assert refused.value.code == "Authorization_RequestDenied"
    assert isinstance(refused.value, GraphAccessError), "the other tools still stop on it"
