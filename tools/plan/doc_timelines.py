"""The renewal timelines docs/credentials-and-renewal.md shows: each credential form, drawn by ``make plan`` itself.

Each is the Renewal section's gantt of a real plan: a stack first deployed on ``FIRST_DEPLOY`` (run
offline, its outputs written as ``pulumi stack output --json`` writes them), then planned with those
outputs on ``PLANNED``, a deploy after the first renewal. Fixed dates, so the page can hold them and
``tests/plan/test_timeline.py`` fails the day the code draws anything else.

``python -m tools.plan.doc_timelines --write`` redraws them into the page; ``--check`` (the default)
exits 1 when the page differs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tools.cli import plain_help
from tools.offline.entra import OfflineEntra, published_graph_roles
from tools.offline.run import ROOT, program_at, run_offline
from tools.offline.values import self_signed_pem
from tools.plan.plan import plan

PAGE = ROOT / "docs" / "credentials-and-renewal.md"
STACK = "docs"
FIRST_DEPLOY = dt.datetime(2027, 1, 4, 5, 17, tzinfo=dt.UTC)
PLANNED = FIRST_DEPLOY + dt.timedelta(days=29)


def examples() -> dict[str, dict[str, Any]]:
    """The stack config of each example, by the name the page's markers use."""
    current = self_signed_pem("hr-middleware", dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
                              dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
    upcoming = self_signed_pem("hr-middleware", dt.datetime(2027, 1, 25, tzinfo=dt.UTC),
                               dt.datetime(2028, 1, 25, tzinfo=dt.UTC))
    return {
        "secret": {"hr-sync": {"kind": "servicePrincipal", "credential": {"type": "secret", "lifetimeDays": 90}}},
        "generated certificate": {"hr-cert": {"kind": "servicePrincipal", "credential": {
            "type": "certificate", "generate": {"subject": "hr-cert", "validityDays": 90}}}},
        "bring-your-own pair": {"hr-middleware": {"kind": "servicePrincipal", "credential": {
            "type": "certificate", "pem": [current, upcoming]}}},
    }


def drawn(name: str, clients: Mapping[str, Any]) -> str:
    """The Renewal section's gantt of the plan on ``PLANNED`` after a first deploy on ``FIRST_DEPLOY``."""
    first = run_offline(OfflineEntra(published_graph_roles(), now=FIRST_DEPLOY), {"clients": clients}, STACK,
                        program=program_at(FIRST_DEPLOY))
    with tempfile.TemporaryDirectory() as folder:
        stack_file, outputs = Path(folder) / f"Pulumi.{STACK}.yaml", Path(folder) / "outputs.json"
        stack_file.write_text(yaml.safe_dump({"config": {"inbound-provisioning-access:clients": clients}}))
        outputs.write_text(json.dumps({k: "[secret]" if k in first.secret_outputs else v
                                       for k, v in first.outputs.items()}))
        out, err = io.StringIO(), io.StringIO()
        if plan(STACK, stack_file, out, err, outputs, now=PLANNED) != 0:
            raise RuntimeError(f"the {name} example does not plan: {err.getvalue()}")
    charts = re.findall(r"^```mermaid\n.*?^```\n", out.getvalue(), re.MULTILINE | re.DOTALL)
    if len(charts) != 1:
        raise RuntimeError(f"the {name} example's plan has {len(charts)} gantt charts, not one")
    return str(charts[0])


def marked(name: str) -> re.Pattern[str]:
    """Where the page holds one example: between ``<!-- timeline: NAME -->`` and ``<!-- /timeline -->``."""
    return re.compile(rf"(<!-- timeline: {re.escape(name)} -->\n)(.*?)(<!-- /timeline -->)", re.DOTALL)


def on_page(text: str) -> dict[str, str]:
    """Each example's diagram as the page holds it."""
    return {name: found[2] for name in examples() if (found := marked(name).search(text))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan.doc_timelines", description=plain_help(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"redraw the timelines in {PAGE.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    text = PAGE.read_text()
    current = on_page(text)
    for name, clients in examples().items():
        chart = drawn(name, clients)
        if current.get(name) == chart:
            continue
        if not args.write:
            print(f"{PAGE.relative_to(ROOT)}: the {name} timeline differs from what make plan draws; run "
                  "python -m tools.plan.doc_timelines --write", file=sys.stderr)
            return 1
        if name not in current:
            raise SystemExit(f"{PAGE.relative_to(ROOT)} has no <!-- timeline: {name} --> marker")
        found = marked(name).search(text)
        if found is not None:
            text = text[:found.start(2)] + chart + text[found.end(2):]
    if args.write:
        PAGE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
