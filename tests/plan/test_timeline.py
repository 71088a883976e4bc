"""The renewal timeline (issue 33): the gantt make plan and make plan-diff draw, parsed back, across a renewal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from components.settings.parse import parse_settings
from tests.conftest import GRAPH_ROLES
from tests.plan.helpers import Task, gantts
from tools.offline.deploys import DeploySimulation
from tools.plan import doc_timelines
from tools.plan.timeline import MAX_SECTIONS, Bar, Milestone, Timeline, gantt, timelines

D0 = dt.datetime(2027, 1, 4, 5, 17, tzinfo=dt.UTC)
# One secret client (a generated certificate follows the same ledger: the docs' example plans one).
CONFIG: dict[str, Any] = {"clients": {
    "hr-sync": {"kind": "servicePrincipal", "credential": {"type": "secret", "lifetimeDays": 90}}}}


def day(offset: int) -> dt.date:
    return (D0 + dt.timedelta(days=offset)).date()


def secret_values(value: Any) -> Iterator[str]:
    """Every string under the secret outputs (client secrets, private keys, certificates)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from secret_values(item)
    elif isinstance(value, str):
        yield value


@pytest.fixture(scope="module")
def walk() -> dict[int, tuple[str, list[Task]]]:
    """Deploys on days 0, 28, 35 and 42 of one stack; each deploy's chart, text and parsed (by day)."""
    simulation = DeploySimulation(GRAPH_ROLES)
    settings = parse_settings(CONFIG, "dev", D0)
    charts: dict[int, tuple[str, list[Task]]] = {}
    previous: dict[str, Any] | None = None
    for offset in (0, 28, 35, 42):
        now = D0 + dt.timedelta(days=offset)
        deploy = simulation.up(CONFIG, now)
        assert not deploy.failed
        clients = deploy.run.outputs["clients"]
        text = gantt("Credentials of stack dev", now.date(), list(timelines(settings, clients, previous).items()))
        secrets = list(secret_values(deploy.run.outputs["clientCredentials"]))
        assert secrets, "the walk has secrets to leak"
        for secret in secrets:
            assert secret not in text, "a diagram never carries a secret value"
        [chart] = gantts(text)
        charts[offset] = (text, chart)
        previous = clients
    return charts


def rows(chart: list[Task], section: str) -> list[tuple[str, tuple[str, ...], dt.date, dt.date | None]]:
    return [(t.name, t.tags[:1], t.start, t.end) for t in chart if t.section == section]


def test_a_new_client_has_one_credential_and_its_renewal_day(walk: dict[int, tuple[str, list[Task]]]) -> None:
    _, chart = walk[0]
    assert rows(chart, "planned deploy") == [("this deploy", ("milestone",), day(0), None)]
    assert rows(chart, "hr-sync") == [
        ("secret 20270104 handed out", ("active",), day(0), day(90)),
        ("renewal due", ("milestone",), day(28), None)]


def test_the_renewal_overlaps_the_two_and_marks_the_removal(walk: dict[int, tuple[str, list[Task]]]) -> None:
    _, chart = walk[28]
    assert rows(chart, "hr-sync") == [
        ("secret 20270201 handed out", ("active",), day(28), day(118)),
        ("secret 20270104 superseded", ("done",), day(0), day(90)),
        ("20270104 removed", ("milestone",), day(42), None),
        ("renewal due", ("milestone",), day(56), None)]


def test_a_deploy_with_nothing_due_draws_the_same(walk: dict[int, tuple[str, list[Task]]]) -> None:
    assert rows(walk[35][1], "hr-sync") == rows(walk[28][1], "hr-sync")


def test_after_the_overlap_only_the_successor_is_left(walk: dict[int, tuple[str, list[Task]]]) -> None:
    _, chart = walk[42]
    assert rows(chart, "hr-sync") == [
        ("secret 20270201 handed out", ("active",), day(28), day(118)),
        ("renewal due", ("milestone",), day(56), None)]


def test_every_name_is_inert_and_every_id_numbered() -> None:
    hostile = Timeline((Bar("click b1 call alert() #x: y; z", day(0), day(9), "active"),),
                       (Milestone("%%{init: x}%% <b>", day(3)),))
    text = gantt("title: click", day(0), [("section\nclick x", hostile), ("a" * 500, hostile)])
    assert "\n```\n" not in text[:-4], "one fence, closed once"
    for task in gantts(text)[0]:
        assert all(ch.isalnum() or ch in " ._/+-" for ch in task.name + task.section), task
        assert task.id[0] in "bm"
        assert task.id[1:].isdigit()
        assert not task.name.lower().startswith(("click", "call", "section")), task
    assert "title _title click" in text


def test_past_the_bound_the_rest_is_one_section_that_says_how_many() -> None:
    one = Timeline((Bar("secret 1 handed out", day(0), day(90), "active"),), ())
    chart = gantts(gantt("many", day(0), [(f"client-{n}", one) for n in range(MAX_SECTIONS + 3)]))[0]
    sections = list(dict.fromkeys(t.section for t in chart))
    assert len(sections) == 1 + MAX_SECTIONS + 1
    assert sections[-1] == "3 more not drawn"


def test_the_docs_show_the_timelines_the_code_draws_today() -> None:
    """docs/credentials-and-renewal.md's diagrams are make plan's own: they cannot drift."""
    page = doc_timelines.on_page(doc_timelines.PAGE.read_text())
    drawn = {name: doc_timelines.drawn(name, clients) for name, clients in doc_timelines.examples().items()}
    assert page == drawn, "run: venv/bin/python -m tools.plan.doc_timelines --write"
    planned = doc_timelines.PLANNED.date()
    [secret] = gantts(drawn["secret"])
    assert [(t.name, t.start, t.end) for t in secret if t.section == "hr-sync"] == [
        ("secret 20270201 handed out", planned, planned + dt.timedelta(days=90)),
        ("secret 20270104 superseded", day(0), day(90)),
        ("20270104 removed", planned + dt.timedelta(days=14), None),
        ("renewal due", planned + dt.timedelta(days=28), None)]
    [pair] = gantts(drawn["bring-your-own pair"])
    assert [(t.name, t.tags, t.start, t.end) for t in pair if t.section == "hr-middleware"] == [
        ("certificate current", (), dt.date(2026, 3, 1), dt.date(2027, 3, 1)),
        ("certificate next", (), dt.date(2027, 1, 25), dt.date(2028, 1, 25)),
        ("list the next certificate by - make check-expiry fails", ("milestone",), dt.date(2027, 12, 26), None)]
