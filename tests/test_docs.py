"""The docs cannot drift: every relative link and anchor resolves, and the configuration reference
lists exactly the config keys the settings accept."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from components.settings.parse import parse_settings
from components.settings.problems import SettingsError

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = ROOT / "docs" / "configuration.md"


def markdown_files() -> list[Path]:
    """The pages a reader follows links between."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md",
             *sorted((ROOT / "examples").glob("*/README.md"))]
    return [page for page in pages if page.exists()]


# -- links and anchors ----------------------------------------------------------------------------

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def prose(text: str) -> str:
    """The Markdown without its fenced code blocks, whose `#` lines are comments, not headings."""
    return _FENCE.sub("", text)


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text lower-cased, punctuation but `-` and `_` dropped,
    spaces turned into `-` (github-slugger's rule)."""
    text = _LINK.sub(lambda m: m.group(1), heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    """Every heading anchor of a page; a repeated heading gets `-1`, `-2`, … as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for match in _HEADING.finditer(prose(page.read_text())):
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return frozenset(found)


def links(page: Path) -> Iterator[str]:
    """The targets of a page's Markdown links, outside code."""
    for line in prose(page.read_text()).splitlines():
        for match in _LINK.finditer(_CODE_SPAN.sub("", line)):
            yield match.group(2)


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """Each link of ``page`` to a file that is not in ``root``, or to an anchor its page lacks."""
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or root.resolve() not in (linked, *linked.parents):
            broken.append(f"{target}: no such file in the repository")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: {linked.name} has no heading with that anchor")
    return broken


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_the_link_check_finds_what_is_broken(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# A `make plan`: the plan, in C# too\n\n## Twice\n\n## Twice\n\n"
                    "```sh\n# not a heading\n```\n")
    assert anchors(page) == {"a-make-plan-the-plan-in-c-too", "twice", "twice-1"}
    assert github_slug("Use it from TypeScript, Go, C# or YAML") == "use-it-from-typescript-go-c-or-yaml"
    assert github_slug("snake_case and-dash") == "snake_case-and-dash"
    probe = tmp_path / "docs" / "probe.md"
    probe.parent.mkdir()
    probe.write_text("[a](../page.md#nowhere) [b](missing.md) [c](#twice) `[d](ignored.md)` [e](https://x.test/)\n"
                     "[f](../page.md#twice-1) [g](../page.md) [h](../../outside.md) [i](<../page.md#a-make-plan-"
                     "the-plan-in-c-too>)\n")
    (tmp_path.parent / "outside.md").write_text("# Outside\n")
    problems = broken_links(probe, root=tmp_path)
    assert [p.split(":")[0] for p in problems] == ["../page.md#nowhere", "missing.md", "#twice", "../../outside.md"]


# -- config keys ----------------------------------------------------------------------------------

UNKNOWN = "zzNotAKey"
_ALLOWED_HERE = re.compile(r"unknown key; allowed keys here: (.+)$")
_NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
_GUID = "00000000-0000-4000-8000-000000000001"
_SECRET: dict[str, Any] = {"kind": "servicePrincipal", "credential": {"type": "secret"}}
_EXISTING: dict[str, Any] = {"kind": "managedIdentity", "existing": {"displayName": "CSV2SCIMBulkUpload"}}


def _with_client(client: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"clients": {"c": client}, **top}


# One config per shape an object can take (the discriminators: a client's kind, a credential's
# type, a certificate's pem or generate, an existing or a created provisioning app), and where in
# it to probe. Which keys each object accepts is then read from the code's own error messages.
PROBES: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    (_with_client(_SECRET), ()),
    (_with_client(_SECRET), ("clients", "c")),
    (_with_client(_EXISTING), ("clients", "c")),
    (_with_client(_SECRET), ("clients", "c", "credential")),
    (_with_client({**_SECRET, "credential": {"type": "certificate", "pem": "x"}}), ("clients", "c", "credential")),
    (_with_client({**_SECRET, "credential": {"type": "certificate", "generate": {"subject": "s"}}}),
     ("clients", "c", "credential")),
    (_with_client({**_SECRET, "credential": {"type": "certificate", "generate": {"subject": "s"}}}),
     ("clients", "c", "credential", "generate")),
    (_with_client({**_SECRET, "credential": {"type": "federated", "issuer": "https://issuer.test", "subject": "s"}}),
     ("clients", "c", "credential")),
    (_with_client(_EXISTING), ("clients", "c", "existing")),
    (_with_client({"kind": "managedIdentity",
                   "userAssigned": {"name": "id-hr", "resourceGroupName": "rg", "location": "westeurope"}}),
     ("clients", "c", "userAssigned")),
    (_with_client({**_SECRET, "adopt": {}}), ("clients", "c", "adopt")),
    (_with_client({**_EXISTING, "adopt": {}}), ("clients", "c", "adopt")),
    (_with_client(_SECRET, provisioningApp={"servicePrincipalId": _GUID, "jobId": "x"}), ("provisioningApp",)),
    (_with_client(_SECRET, provisioningApp={"create": {"notificationEmail": "hr-ops@contoso.test"}}),
     ("provisioningApp", "create")),
]


def _level(where: tuple[str, ...]) -> str:
    """A key path as the reference's tables name it: any client key is `<key>`."""
    return re.sub(r"^clients\.[^.]+", "clients.<key>", ".".join(where))


def _allowed_at(raw: dict[str, Any], where: tuple[str, ...], value: Any) -> list[str] | None:
    """The keys the code accepts in the object at ``where``, read from its refusal of an unknown key."""
    probe = copy.deepcopy(raw)
    node = probe
    for key in where:
        node = node[key]
    node[UNKNOWN] = value
    try:
        parse_settings(probe, "dev", _NOW)
    except SettingsError as error:
        path = ".".join((*where, UNKNOWN))
        for problem in error.problems:
            match = _ALLOWED_HERE.search(problem.allowed)
            if problem.path == path and match:
                return match.group(1).split(", ")
    return None


@cache
def accepted_keys() -> dict[str, frozenset[str]]:
    """Every object level of the config and the keys the code accepts there.

    Each probe adds an unknown key and reads the allowed list from the problem the code reports.
    Below every key found, an object holding only an unknown key is tried too, so a new nested
    object is found without a probe of its own."""
    levels: dict[str, set[str]] = {}
    for raw, where in PROBES:
        allowed = _allowed_at(raw, where, 1)
        assert allowed, f"no 'allowed keys here' for an unknown key under {_level(where) or 'the top level'}"
        levels.setdefault(_level(where), set()).update(allowed)
        for key in allowed:
            node = raw
            for step in where:
                node = node[step]
            if (*where, key) in {w for _, w in PROBES} or isinstance(node.get(key), dict):
                continue
            nested = copy.deepcopy(raw)
            inner = nested
            for step in where:
                inner = inner[step]
            inner[key] = {}
            found = _allowed_at(nested, (*where, key), 1)
            if found:
                levels.setdefault(_level((*where, key)), set()).update(found)
    return {level: frozenset(keys) for level, keys in levels.items()}


_TABLE_HEADER = re.compile(r"^\|\s*(key\b[^|]*)\|", re.IGNORECASE)


def documented_keys(text: str) -> dict[str, frozenset[str]]:
    """The keys the reference documents, by level: each table whose first column is headed `key`
    (the top level) or `key under `<path>``, and the backticked names in that column."""
    levels: dict[str, set[str]] = {}
    level: str | None = None
    for line in prose(text).splitlines():
        header = _TABLE_HEADER.match(line)
        if header:
            path = re.search(r"`([^`]+)`", header.group(1))
            level = path.group(1) if path else ""
            levels.setdefault(level, set())
        elif level is not None and line.startswith("|"):
            if not re.match(r"^\|[\s:|-]+$", line):
                levels[level].update(re.findall(r"`([^`]+)`", line.split("|")[1]))
        else:
            level = None
    return {level: frozenset(keys) for level, keys in levels.items()}


def test_the_configuration_reference_lists_exactly_the_keys_the_code_accepts() -> None:
    accepted = accepted_keys()
    documented = documented_keys(CONFIGURATION.read_text())
    drift = {}
    for level in sorted(accepted.keys() | documented.keys()):
        missing = sorted(accepted.get(level, frozenset()) - documented.get(level, frozenset()))
        unknown = sorted(documented.get(level, frozenset()) - accepted.get(level, frozenset()))
        if missing or unknown:
            drift[level or "(top level)"] = {"accepted but not documented": missing,
                                             "documented but unknown to the code": unknown}
    assert drift == {}, f"docs/configuration.md and the settings disagree: {drift}"


def test_the_key_probes_see_every_level() -> None:
    accepted = accepted_keys()
    assert {"clients", "graphPermissions", "protect", "provisioningApp"} <= accepted[""]
    assert {"kind", "credential", "existing", "userAssigned", "adopt"} <= accepted["clients.<key>"]
    assert {"lifetimeDays", "pem", "generate", "issuer"} <= accepted["clients.<key>.credential"]
    assert {"notificationEmail"} <= accepted["provisioningApp.create"]


def test_the_reference_parser_reads_levels_from_table_headers() -> None:
    text = ("| key | type |\n|---|---|\n| `clients` | map |\n\nprose `notAKey`\n\n"
            "| key under `clients.<key>.existing` | type |\n|---|---|\n| `objectId` | GUID, like `x` |\n"
            "```\n| key | inside code |\n| `ignored` | |\n```\n| permission | why |\n|---|---|\n| `Other` | |\n")
    assert documented_keys(text) == {"": {"clients"}, "clients.<key>.existing": {"objectId"}}
