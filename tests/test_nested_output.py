"""``nested_output``: the value, secretness, known-ness and dependencies ``Output.from_input`` gives a nested value."""

from __future__ import annotations

import asyncio
from typing import Any

import pulumi

from components.nested_output import nested_output
from tools.offline.entra import OfflineEntra


def unknown_output() -> pulumi.Output[str]:
    """An output the engine cannot tell yet (a new resource's id in a preview)."""
    value: asyncio.Future[str] = asyncio.Future()
    value.set_result("ignored")
    known: asyncio.Future[bool] = asyncio.Future()
    known.set_result(False)
    return pulumi.Output(set(), value, known)


async def state(output: pulumi.Output[Any]) -> tuple[Any, bool, bool, set[pulumi.Resource]]:
    return (await output.future(), await output.is_known(), await output.is_secret(), await output.resources())


@pulumi.runtime.test
def test_the_same_value_secretness_and_dependencies_as_from_input(fresh_runtime: OfflineEntra) -> pulumi.Output[Any]:
    owner = pulumi.CustomResource("test:index:Thing", "thing", {"keyId": "k-1"})
    key_id: pulumi.Output[str] = owner.keyId  # type: ignore[attr-defined]
    value = {
        "kind": "servicePrincipal",
        "keyIds": [key_id, "plain"],
        "renewal": {"handedOut": {"keyId": key_id, "endDate": pulumi.Output.from_input("2027-01-01T00:00:00Z")},
                    "superseded": None},
        "empty": {},
    }
    nested, reference = nested_output(value), pulumi.Output.from_input(value)

    async def compare() -> None:
        got, expected = await state(nested), await state(reference)
        assert got == expected
        assert got[0]["keyIds"] == ["k-1", "plain"]
        assert got[0]["renewal"]["handedOut"] == {"keyId": "k-1", "endDate": "2027-01-01T00:00:00Z"}
        assert got[2] is False, "no leaf is secret: neither is the whole"
        assert owner in got[3]

    return pulumi.Output.from_input(compare())


@pulumi.runtime.test
def test_one_secret_leaf_makes_it_secret(fresh_runtime: OfflineEntra) -> pulumi.Output[Any]:
    nested = nested_output({"a": {"clientSecret": pulumi.Output.secret("s3cret")}, "b": ["x"]})

    async def check() -> None:
        value, known, secret, _ = await state(nested)
        assert (value, known, secret) == ({"a": {"clientSecret": "s3cret"}, "b": ["x"]}, True, True)

    return pulumi.Output.from_input(check())


@pulumi.runtime.test
def test_one_unknown_leaf_makes_it_unknown_as_from_input_does(fresh_runtime: OfflineEntra) -> pulumi.Output[Any]:
    value = {"clientId": unknown_output(), "kind": "servicePrincipal"}
    nested, reference = nested_output(value), pulumi.Output.from_input(value)

    async def check() -> None:
        assert await nested.is_known() is False
        assert await reference.is_known() is False
        assert await nested.future() is None

    return pulumi.Output.from_input(check())


@pulumi.runtime.test
def test_plain_values_come_back_as_they_are(fresh_runtime: OfflineEntra) -> pulumi.Output[Any]:
    def check(value: Any) -> None:
        assert value == {"a": [1, {"b": None}], "c": {}}

    return nested_output({"a": [1, {"b": None}], "c": {}}).apply(check)
