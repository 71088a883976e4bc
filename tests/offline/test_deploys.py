"""The deploy simulation follows a resource by its URN: a new parent is a new resource unless an alias says not."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pulumi
import pulumi_azuread as azuread

from tests.conftest import GRAPH_ROLES
from tools.offline.deploys import DeploySimulation

APPLICATION = "azuread:index/application:Application"
PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
START = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
ROLES = GRAPH_ROLES[:3]


class Box(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("test:index:Box", name, None, opts)


def program(*, wrapped: bool, aliases: list[pulumi.Input[str] | pulumi.Alias] | None = None,
            secret_alias: str = "") -> Callable[[], None]:
    """A client box holding an app and its password; ``wrapped`` puts the box under an outer box."""

    def run() -> None:
        outer = Box("outer") if wrapped else None
        box = Box("hr", pulumi.ResourceOptions(parent=outer, aliases=aliases or []))
        app = azuread.Application("hr-app", display_name="hr", opts=pulumi.ResourceOptions(parent=box))
        azuread.ApplicationPassword(
            "hr-secret-2" if secret_alias else "hr-secret", application_id=app.id,
            opts=pulumi.ResourceOptions(parent=box, aliases=[pulumi.Alias(name=secret_alias)] if secret_alias else []))
        pulumi.export("ok", True)

    return run


def deploy_twice(second: Callable[[], None]) -> list[tuple[str, str]]:
    simulation = DeploySimulation(ROLES)
    simulation.up({}, START, program=program(wrapped=False))
    again = simulation.up({}, START + dt.timedelta(hours=1), program=second)
    return sorted((c.kind, c.name) for c in again.changes)


def test_a_new_parent_without_an_alias_deletes_and_creates_every_descendant() -> None:
    assert deploy_twice(program(wrapped=True)) == [
        ("create", "hr-app"), ("create", "hr-secret"), ("delete", "hr-app"), ("delete", "hr-secret")]


def test_an_alias_to_the_stack_on_the_box_carries_its_children_over() -> None:
    assert deploy_twice(program(wrapped=True, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])) == []


def test_an_alias_to_another_parent_does_not_match() -> None:
    elsewhere = pulumi.Alias(parent="urn:pulumi:dev::inbound-provisioning-access::test:index:Box::other")
    assert [kind for kind, _ in deploy_twice(program(wrapped=True, aliases=[elsewhere]))] == [
        "create", "create", "delete", "delete"]


def test_a_childs_own_name_alias_combines_with_its_parents_alias() -> None:
    changes = deploy_twice(program(wrapped=True, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)],
                                   secret_alias="hr-secret"))
    assert changes == [], "renamed under a moved parent: the inherited alias and its own compose"


def test_deploying_the_same_program_again_changes_nothing() -> None:
    assert deploy_twice(program(wrapped=False)) == []


def test_an_alias_naming_the_old_parent_by_its_full_urn_matches() -> None:
    old_parent = "urn:pulumi:dev::inbound-provisioning-access::pulumi:pulumi:Stack$test:index:Box::hr"

    def with_child_alias() -> None:
        # The box moves without an alias of its own; its app names its old parent's URN.
        outer = Box("outer")
        box = Box("hr", pulumi.ResourceOptions(parent=outer))
        azuread.Application("hr-app", display_name="hr", opts=pulumi.ResourceOptions(
            parent=box, aliases=[pulumi.Alias(parent=old_parent)]))
        pulumi.export("ok", True)

    assert deploy_twice(with_child_alias) == [("delete", "hr-secret")], "the app is kept; the password is gone"
