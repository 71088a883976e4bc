"""The SCIM BulkRequest the HR client uploads: read from a file, checked against the bulkUpload API's rules.

The rules are Microsoft Graph's for ``POST .../synchronization/jobs/{jobId}/bulkUpload``: the
root ``schemas`` is ``urn:ietf:params:scim:api:messages:2.0:BulkRequest``; ``Operations`` holds
1 to 50 operations, each ``method: POST`` to ``path: /Users`` with a ``bulkId`` and a SCIM user
in ``data`` (core User schema, optionally the enterprise extension and custom namespaces such as
``urn:ietf:params:scim:schemas:extension:csv:1.0:User`` that the provisioning app's schema
declares).  The provisioning service decides create, update or disable from its attribute
mapping: the client always sends ``POST``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CORE_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
CONTENT_TYPE = "application/scim+json"
MAX_OPERATIONS = 50
SAMPLE_REQUEST = Path(__file__).resolve().parent / "sample-request.json"


class BulkRequestError(Exception):
    """The request file breaks the bulkUpload API's rules; the message lists every problem."""


def load_bulk_request(path: Path) -> dict[str, Any]:
    """The BulkRequest in ``path``, or BulkRequestError naming every rule it breaks."""
    try:
        request = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BulkRequestError(f"cannot read {path}: {error.strerror or error}") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BulkRequestError(f"{path} is not JSON: {error}") from error
    problems = bulk_request_problems(request)
    if problems:
        raise BulkRequestError(f"{path} is not a bulkUpload request:\n" + "\n".join(f"  - {p}" for p in problems))
    return request  # type: ignore[no-any-return]  # bulk_request_problems proved it is an object


def bulk_request_problems(request: Any) -> list[str]:
    """Every way ``request`` breaks the bulkUpload API's rules (empty: it follows them)."""
    if not isinstance(request, dict):
        return [f"the request must be a JSON object, got {type(request).__name__}"]
    problems = []
    schemas = request.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST_SCHEMA not in schemas:
        problems.append(f"schemas: {schemas!r}; must be [{BULK_REQUEST_SCHEMA!r}]")
    operations = request.get("Operations")
    if not isinstance(operations, list) or not 1 <= len(operations) <= MAX_OPERATIONS:
        count = len(operations) if isinstance(operations, list) else operations
        problems.append(f"Operations: {count!r} operations; must be a list of 1 to {MAX_OPERATIONS} "
                        "(split a larger batch into several requests)")
        operations = operations if isinstance(operations, list) else []
    bulk_ids: set[str] = set()
    for index, operation in enumerate(operations):
        where = f"Operations[{index}]"
        if not isinstance(operation, dict):
            problems.append(f"{where}: must be an object")
            continue
        if operation.get("method") != "POST":
            problems.append(f"{where}.method: {operation.get('method')!r}; must be 'POST' (the provisioning "
                            "service decides create, update or disable)")
        if operation.get("path") != "/Users":
            problems.append(f"{where}.path: {operation.get('path')!r}; must be '/Users'")
        bulk_id = operation.get("bulkId")
        if not isinstance(bulk_id, str) or not bulk_id:
            problems.append(f"{where}.bulkId: {bulk_id!r}; must be a non-empty string")
        elif bulk_id in bulk_ids:
            problems.append(f"{where}.bulkId: {bulk_id!r} is used twice; each operation needs its own")
        else:
            bulk_ids.add(bulk_id)
        data = operation.get("data")
        data_schemas = data.get("schemas") if isinstance(data, dict) else None
        if not isinstance(data_schemas, list) or CORE_USER_SCHEMA not in data_schemas:
            problems.append(f"{where}.data.schemas: {data_schemas!r}; must list {CORE_USER_SCHEMA!r} and every "
                            "extension namespace the user uses")
        elif isinstance(data, dict):
            undeclared = sorted(k for k in data if k.startswith("urn:") and k not in data_schemas)
            if undeclared:
                problems.append(f"{where}.data: {', '.join(undeclared)} not listed in data.schemas")
    return problems


def render_bulk_request(request: dict[str, Any]) -> str:
    """The request body exactly as it is sent."""
    return json.dumps(request, indent=2, ensure_ascii=False)
