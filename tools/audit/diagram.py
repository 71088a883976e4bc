"""Who can upload as a Mermaid flowchart for the job summary: principals grouped by how direct their path is.

One subgraph per degree of directness (each principal where its most direct path puts it), trusted
principals and the stack's own clients apart, what the paths reach in a subgraph of its own, and an
edge per path labelled with its role or permission. A principal with a path that is a finding is
labelled ``FINDING`` and drawn with a red border. Every text from the tenant goes through
``tools.mermaid.label`` and node ids are numbered, never made from data: a display name cannot
break the diagram, add a link or a click handler. Past :data:`MAX_PER_GROUP` principals a group
folds the rest into one node that says how many (the table lists them all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tools.audit.model import DECLARED, DIRECTNESS, FINDING, TRUSTED, target_label
from tools.mermaid import fold, label

MAX_PER_GROUP = 20
MAX_EDGES = 120
GROUP_TITLES = {"holds the upload": "holds the upload", "one step": "one step from the upload",
                "two steps": "two steps from the upload", TRUSTED: "trusted (trustedPrincipals): expected",
                DECLARED: "the stack's own clients: declared"}


def flowchart(paths: Sequence[Mapping[str, Any]]) -> list[str]:
    """The diagram's lines (without the fence); ``paths``: the report's ``whoCanUpload`` rows, most direct first."""
    principals: dict[str, dict[str, Any]] = {}
    for path in paths:
        seen = principals.setdefault(path["principalId"], {"name": path["principal"], "type": path["type"],
                                                           "group": _group(path), "finding": False})
        seen["finding"] = seen["finding"] or path["status"] == FINDING
        if _rank(_group(path)) < _rank(seen["group"]):
            seen["group"] = _group(path)
    names = {key: str(p["name"]) for key, p in principals.items()}
    lines = ["flowchart LR"]
    ids: dict[str, str] = {}
    drawn: set[str] = set()
    for number, group in enumerate(GROUP_TITLES, start=1):
        members = [key for key, p in principals.items() if p["group"] == group]
        if not members:
            continue
        kept, hidden = fold(members, MAX_PER_GROUP)
        lines.append(f'  subgraph g{number}["{label(GROUP_TITLES[group])}"]')
        for key in kept:
            node = ids.setdefault(key, f"n{len(ids) + 1}")
            drawn.add(key)
            shown = principals[key]
            text = f"{'FINDING: ' if shown['finding'] else ''}{shown['name']} ({shown['type']})"
            lines.append(f'    {node}["{label(text)}"]')
        if hidden:
            lines.append(f'    g{number}more["{label(f"{hidden} more in this group: see the table")}"]')
        lines.append("  end")
    targets = [path["target"] for path in paths if path["target"] not in principals]
    if targets:
        lines.append(f'  subgraph g{len(GROUP_TITLES) + 1}["{label("what the paths reach")}"]')
        for target in dict.fromkeys(targets):
            node = ids.setdefault(target, f"n{len(ids) + 1}")
            drawn.add(target)
            lines.append(f'    {node}(["{label(target_label(target, names))}"])')
        lines.append("  end")
    edges = dict.fromkeys((path["principalId"], path["via"], path["target"]) for path in paths
                          if path["principalId"] in drawn and path["target"] in drawn)
    kept_edges, hidden_edges = fold(edges, MAX_EDGES)
    lines += [f'  {ids[source]} -->|"{label(via)}"| {ids[target]}' for source, via, target in kept_edges]
    if hidden_edges:
        lines.append(f'  edgesmore["{label(f"{hidden_edges} more paths: see the table")}"]')
    flagged = [ids[key] for key, p in principals.items() if p["finding"] and key in drawn]
    if flagged:
        lines.append("  classDef finding stroke:#d1242f,stroke-width:3px")
        lines.append(f"  class {','.join(flagged)} finding")
    return lines


def _group(path: Mapping[str, Any]) -> str:
    return str(path["status"]) if path["status"] in (TRUSTED, DECLARED) else str(path["howDirect"])


def _rank(group: str) -> int:
    """Findings by directness first; a principal trusted or declared on one path stays where a finding puts it."""
    return DIRECTNESS.index(group) if group in DIRECTNESS else len(DIRECTNESS)
