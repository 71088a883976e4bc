"""tools/stack/pending.py: the creates an earlier run left pending in the state (`pulumi stack export`)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from tools.stack import pending

PASSWORD_URN = "urn:pulumi:dev::p::t$azuread:index/applicationPassword:ApplicationPassword::hr-secret-20270220"


def test_only_pending_creates_count() -> None:
    export = {"deployment": {"pending_operations": [
        {"resource": {"urn": PASSWORD_URN, "type": pending.PASSWORD}, "type": "creating"},
        {"resource": {"urn": "urn:pulumi:dev::p::t::other", "type": "x"}, "type": "updating"}]}}
    assert pending.pending_creates(export) == [pending.PendingCreate(PASSWORD_URN, pending.PASSWORD)]
    assert pending.pending_creates({"version": 3, "deployment": {"resources": []}}) == []
    assert pending.pending_creates({}) == [], "a stack never deployed exports no deployment"


def test_the_refusal_says_what_to_do_per_type(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"deployment": {"pending_operations": [
        {"resource": {"urn": PASSWORD_URN, "type": pending.PASSWORD}, "type": "creating"}]}}))
    err = io.StringIO()
    assert pending.main(["--stack", "dev", "--export", str(path)], err=err) == pending.EXIT_PENDING
    assert "hr-secret-20270220: a client secret nobody has the value of" in err.getvalue()
    assert "pulumi refresh --stack dev --clear-pending-creates" in err.getvalue()
    path.write_text("not json")
    assert pending.main(["--stack", "dev", "--export", str(path)], err=io.StringIO()) == pending.EXIT_UNREADABLE
