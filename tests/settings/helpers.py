"""What the settings tests share: parsing at the fixed NOW, certificates, and the bad-config checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from components.settings.parse import parse_settings
from components.settings.problems import SettingsError
from tests.conftest import NOW, RunProgram, job_for
from tools.offline.run import LAST_RUN
from tools.offline.values import self_signed_pem

VALID_PEM = self_signed_pem("hr-sync.example.com", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=200))
EXPIRED_PEM = self_signed_pem("old.example.com", NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=35))
PRIVATE_KEY_PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"
)

SP = "servicePrincipal"
FED = {"type": "federated", "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:o/r:ref:main"}
UA = {"name": "id-hr", "resourceGroupName": "rg-identity", "location": "westeurope"}
JOB = job_for("72f988bf-0000-4000-8000-00000000e1d0")


def parse(raw: dict[str, Any], stack: str = "dev") -> Any:
    return parse_settings(raw, stack, NOW)


def problems_of(raw: dict[str, Any], stack: str = "dev") -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        parse(raw, stack)
    return caught.value


def assert_names_the_key_path(case: str, raw: dict[str, Any], path: str) -> None:
    """A bad config's error names the key path, shows what it got, and says what is allowed."""
    error = problems_of(raw)
    assert path in [p.path for p in error.problems], f"{case}: {error}"
    assert f"  - {path}: got " in str(error)
    assert "; " in str(error).split(f"  - {path}: got ", 1)[1]  # says what is allowed


def assert_registers_nothing(run_program: RunProgram, case: str, raw: dict[str, Any], path: str) -> None:
    """Through the real program, a bad config stops it before any resource is registered or read."""
    with pytest.raises(SettingsError) as caught:
        run_program(raw)
    assert path in str(caught.value)
    assert LAST_RUN[0].registrations == [], case
    assert LAST_RUN[0].calls == [], "nothing is read from the tenant either"
