"""A review of make audit against Graph's answers it did not expect: none may read as clean, none may hide a path.

Each test plants one answer Graph may give (a page without ``value``, Graph's app roles left out, a
role's principal not expanded, a scope in another case, a client eligible for a role, a key id that is
a trusted principal's) and checks the audit neither exits clean nor misses or trusts the path.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.audit.tenant import GRAPH, HR, HR_APP, application, as_owner, certificate, clean_tenant, gid, principal, run
from tests.audit.test_who_can_upload import DEPLOYER, STACK_FILE, role, with_trusted
from tests.fake_graph import FakeGraph, FakeResponse, Tenant
from tools.audit import model


class _Rewriting(FakeGraph):
    """Graph answering ``rewrite(page)`` instead of its page for requests whose URL holds ``where``."""

    def __init__(self, tenant: Tenant, where: str, rewrite: Any) -> None:
        super().__init__(tenant)
        self.where, self.rewrite = where, rewrite

    def send(self, request: Any, **kwargs: Any) -> Any:
        response = super().send(request, **kwargs)
        if self.where not in request.url or response.status_code != 200:
            return response
        return FakeResponse(request, 200, self.rewrite(json.loads(response.body())))


@pytest.mark.parametrize("page", [
    {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#appRoleAssignments"},
    {"value": None},
    {"value": {"id": "x"}},
    {"value": ["not an object"]},
])
def test_a_page_without_a_list_of_objects_is_never_an_empty_collection(tmp_path: Path, page: dict[str, Any]) -> None:
    graph = _Rewriting(clean_tenant(), "appRoleAssignedTo", lambda _page: page)
    done = run(tmp_path, graph.tenant, graph=graph)
    assert done.code == model.EXIT_USAGE, done.out
    assert "appRoleAssignedTo" in done.err and "value" in done.err
