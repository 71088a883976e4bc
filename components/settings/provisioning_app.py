"""The provisioning app: ``provisioningApp``, an existing API-driven provisioning app or one the stack creates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.settings.model import (
    DISPLAY_NAME_MAX,
    GUID_RE,
    JOB_ID_RE,
    JOB_TEMPLATE_IDS,
    ProvisioningAppCreateSettings,
    ProvisioningAppSettings,
)
from components.settings.problems import Checker
from components.settings.stack_config import NAMESPACE

# One address, as Entra's notification settings take it (its Recipients field).
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def parse_provisioning_app(check: Checker, value: Any, path: str, stack: str = "") -> ProvisioningAppSettings | None:
    """``provisioningApp``: an existing app (by object id or display name, with its job id) or ``create``."""
    obj = check.mapping(value, path)
    if obj is None:
        return None
    if "create" in obj:
        return _provisioning_app_create(check, obj, path, stack)
    check.only_keys(obj, path, ("servicePrincipalId", "displayName", "jobId", "create"))
    which = check.exactly_one(obj, ("servicePrincipalId", "displayName"), path)
    sp_id = name = None
    if which == "servicePrincipalId":
        sp_id = check.string(obj, which, path, pattern=GUID_RE, allowed="a GUID (the provisioning app's object id)")
    elif which == "displayName":
        name = check.string(obj, which, path, max_len=256)
    job_id = check.string(obj, "jobId", path, pattern=JOB_ID_RE,
                          allowed="a provisioning job id: API2AAD.<32 hex>.<tenant id> or API2AD.<32 hex>.<tenant id>, "
                                  "from the app's Provisioning > Provision on demand page or Graph")
    if job_id is None or (sp_id is None and name is None):
        return None
    return ProvisioningAppSettings(job_id=job_id, service_principal_id=sp_id and sp_id.lower(), display_name=name)


_EXISTING_APP_KEYS = ("servicePrincipalId", "displayName", "jobId")
_CREATE_KEYS = ("target", "displayName", "notificationEmail", "templateId")


def _provisioning_app_create(check: Checker, obj: Mapping[str, Any], path: str,
                             stack: str) -> ProvisioningAppSettings | None:
    """``provisioningApp.create``: the stack makes the app, so it names no existing one."""
    for key in _EXISTING_APP_KEYS:
        if key in obj:
            check.add(f"{path}.{key}", obj[key],
                      f"not allowed together with {path}.create, which creates the app and its job; "
                      f"remove {key}, or remove create to use an existing app")
    check.only_keys({k: v for k, v in obj.items() if k not in _EXISTING_APP_KEYS}, path, ("create",),
                    f"with create, {path} holds only create")
    cpath = f"{path}.create"
    create = check.mapping(obj["create"], cpath)
    if create is None:
        return None
    check.only_keys(create, cpath, _CREATE_KEYS)
    target = create.get("target", "entraId")
    target_ok = isinstance(target, str) and target in JOB_TEMPLATE_IDS
    if not target_ok:
        check.add(f"{cpath}.target", target,
                  "entraId (cloud-only users) or activeDirectory (on-premises AD); default entraId")
    display_name = check.string(create, "displayName", cpath, required=False, max_len=DISPLAY_NAME_MAX)
    email = check.string(create, "notificationEmail", cpath, max_len=254, pattern=EMAIL_RE,
                         allowed="one email address for Entra's quarantine and failure notices, "
                                 "for example hr-ops@contoso.com (a job without one is quarantined)")
    template_id = check.string(create, "templateId", cpath, required=False, pattern=GUID_RE,
                               allowed="a GUID: the gallery template's id (default: looked up by the "
                                       "gallery app's display name)")
    bad_name = "displayName" in create and display_name is None
    bad_template = "templateId" in create and template_id is None
    if (email is None or not target_ok or bad_name or bad_template
            or any(key in obj for key in _EXISTING_APP_KEYS)):
        return None
    return ProvisioningAppSettings(create=ProvisioningAppCreateSettings(
        target=target,
        display_name=display_name or f"{NAMESPACE}-{stack}",
        notification_email=email,
        template_id=template_id and template_id.lower(),
    ))
