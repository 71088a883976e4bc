"""What ``make plan`` and ``make plan-diff`` say about Key Vault secrets a deploy leaves behind.

The stack never deletes a Key Vault secret (``components/key_vault.py``): removing ``keyVault``,
renaming ``secretName`` or moving ``vaultId`` leaves the old secret in its vault, still holding the
credential it had, which renewal then retires.  Its readers lose their role assignments on it at that
deploy and must read the new URI (or the stack's outputs) from then on.  Told by comparing each
client's ``keyVaultSecretUri`` before (the last deploy's outputs, or the base branch's plan) and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LeftBehind:
    """A secret the planned deploy stops writing, and where its readers go instead."""

    client: str
    uri: str
    """The secret left in its vault (versionless URI)."""
    moved_to: str | None
    """The client's new secret; None when it no longer has ``keyVault``."""

    def sentence(self) -> str:
        where = (f"read the new secret, {self.moved_to}" if self.moved_to is not None
                 else "read the credential elsewhere (the stack's outputs)")
        return (f"{self.client}: {self.uri} is left behind in its vault, holding the last credential written to it, "
                f"which renewal retires; its readers lose access to it in this deploy and must {where}. Delete it "
                "by hand once nobody reads it (`az keyvault secret delete`, then `purge` where purge protection "
                "allows).")


def left_behind(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[LeftBehind]:
    """Secrets the ``before`` clients output wrote that the ``after`` one no longer does (case-blind)."""
    found = []
    for key, client in sorted((before or {}).items()):
        uri = client.get("keyVaultSecretUri") if isinstance(client, Mapping) else None
        if not isinstance(uri, str):
            continue
        now = after.get(key)
        new = now.get("keyVaultSecretUri") if isinstance(now, Mapping) else None
        if not isinstance(new, str) or new.casefold() != uri.casefold():
            found.append(LeftBehind(key, uri, new if isinstance(new, str) else None))
    return found
