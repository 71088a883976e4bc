"""Who can upload: every principal's path to the upload, ranked by how direct it is, trusted ones expected.

The paths come from the owners of what the stack made (``owners.py``), the directory roles
(``roles.py``) and the Graph permissions (``holders.py``). A path is *declared* when the stack
made it (its client's own grant, an OwnedBy client owning the provisioning app), *trusted* when
its principal is in ``trustedPrincipals``, and a finding otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

from tools.audit.holders import app_only_paths, delegated_paths
from tools.audit.model import DECLARED, DIRECTNESS, FINDING, TRUSTED, Section, UploadPath
from tools.audit.owners import owned_objects, owner_paths
from tools.audit.reads import Reads
from tools.audit.roles import role_paths
from tools.tenant.ownership import StackRecord

TITLE = "who can upload: every principal with a path to the upload, most direct first"


def who_can_upload(reads: Reads, record: StackRecord, graph_id: str, roles: Mapping[str, str],
                   sections: Mapping[str, Section], trusted: frozenset[str]) -> tuple[Section, list[UploadPath]]:
    """The who-can-upload section (its findings: the paths neither declared nor trusted) and every path."""
    section = Section("whoCanUpload", TITLE)
    owned = owned_objects(sections)
    paths = owner_paths(section, reads, record, owned, trusted)
    owns: dict[str, list[str]] = {}
    for path in paths:
        if path.via == "owner" and path.target not in owns.get(path.principal_id, []):
            owns.setdefault(path.principal_id, []).append(path.target)
    scopes = {f"/{o.object_id.lower()}": (o.what, o.target) for o in owned}
    paths += role_paths(section, reads, record, scopes)
    paths += app_only_paths(section, reads, record, graph_id, roles, owns)
    paths += delegated_paths(section, reads, record, graph_id)
    for path in paths:
        if path.status != DECLARED and path.principal_id in trusted:
            path.status = TRUSTED
    paths.sort(key=lambda p: (DIRECTNESS.index(p.directness), p.status != FINDING, p.principal.casefold(), p.path))
    section.findings += [p.as_finding() for p in paths if p.status == FINDING]
    return section, paths
