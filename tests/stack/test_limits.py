"""Stack files from pull requests are answered in bounded time and memory: every bound refuses what no
real stack needs with the usual one-line error, and a legitimate anchor or merge key still works."""

from __future__ import annotations

import datetime as dt
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from components.settings.model import Settings
from tests.conftest import ROOT
from tools.plan import plan
from tools.stack import limits
from tools.stack.settings import settings_or_problems
from tools.stack.stack_file import StackFileError, read_stack_file

NS = "inbound-provisioning-access"
SECONDS = 3.0  # in-process refusals; the whole command (interpreter start included) is timed below
CLIENT = "kind: servicePrincipal\n      credential: {type: secret}"


def write(tmp_path: Path, text: str, stack: str = "dev") -> Path:
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    return path


def refused(path: Path) -> str:
    started = time.perf_counter()
    with pytest.raises(StackFileError) as error:
        read_stack_file(path)
    assert time.perf_counter() - started < SECONDS
    message = str(error.value)
    assert "\n" not in message
    return message


def alias_bomb(levels: int = 9) -> str:
    lines = ["config:", f"  {NS}:clients:", "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def clients(count: int) -> str:
    return f"config:\n  {NS}:clients:\n" + "".join(f"    c{i}:\n      {CLIENT}\n" for i in range(count))


def test_an_alias_bomb_is_refused_by_counting_never_expanding(tmp_path: Path) -> None:
    message = refused(write(tmp_path, alias_bomb()))  # 10^9 values once expanded, from 500 bytes
    assert "more than 10,000 values once its aliases are expanded" in message
    assert ":6:" in message, "the line where the count passes the bound"


def test_aliases_of_a_long_value_are_bounded_by_their_expanded_text(tmp_path: Path) -> None:
    # 16 KiB, 9,900 times: 160 MB of JSON for the program, from a 40 KB file within every other bound.
    text = (f"config:\n  {NS}:s: &s '{'a' * 16_000}'\n  {NS}:l: &l [{', '.join(['*s'] * 99)}]\n"
            f"  {NS}:x: [{', '.join(['*l'] * 99)}]\n")
    assert "more than 1024 KiB of text once its aliases are expanded" in refused(write(tmp_path, text))


def test_an_alias_that_refers_to_its_own_value_is_refused(tmp_path: Path) -> None:
    assert "refers to the value that contains it" in refused(write(tmp_path, f"config:\n  {NS}:x: &a [1, *a]\n"))


def test_a_large_file_is_refused_without_reading_all_of_it(tmp_path: Path) -> None:
    path = write(tmp_path, "# " + "x" * (4 * 1024 * 1024) + "\n")
    assert "larger than 256 KiB" in refused(path)


def test_nesting_is_bounded(tmp_path: Path) -> None:
    deep = f"config:\n  {NS}:x: " + "[" * 11 + "]" * 11 + "\n"
    assert "nested more than 12 levels" in refused(write(tmp_path, deep))
    # Also through aliases: a shallow anchor used deep down.
    via_alias = f"config:\n  {NS}:a: &a [[[[[[[1]]]]]]]\n  {NS}:b: [[[[*a]]]]\n"
    assert "levels deep" in refused(write(tmp_path, via_alias))


def test_entries_of_one_mapping_or_list_are_bounded(tmp_path: Path) -> None:
    many = f"config:\n  {NS}:graphPermissions: [{', '.join(['AuditLog.Read.All'] * 101)}]\n"
    assert "a list of more than 100 entries" in refused(write(tmp_path, many))


def test_clients_are_bounded(tmp_path: Path) -> None:
    # 2,000 clients ran the mock program for minutes.
    assert "26 clients; make plan reads at most 25" in refused(write(tmp_path, clients(26)))
    assert len(read_stack_file(write(tmp_path, clients(25))).raw["clients"]) == 25


def test_strings_keys_and_numbers_are_bounded(tmp_path: Path) -> None:
    long_value = f"config:\n  {NS}:x: '{'a' * (16 * 1024 + 1)}'\n"
    assert "a value of more than 16,384 characters" in refused(write(tmp_path, long_value))
    long_key = f"config:\n  {NS}:x:\n    {'k' * 513}: 1\n"
    assert "a key of more than 512 characters" in refused(write(tmp_path, long_key))
    # Python refuses to convert integers of more than 4,300 digits: this was a traceback.
    huge = f"config:\n  {NS}:protect: {'9' * 5000}\n"
    assert "a number of more than 32 characters" in refused(write(tmp_path, huge))


def test_json_text_in_a_string_is_held_to_the_same_bounds(tmp_path: Path) -> None:
    # The program decodes a top-level string that is JSON text; nested 5,000 deep it was a RecursionError.
    deep = f"config:\n  {NS}:clients: '{'[' * 5000}'\n"
    assert "JSON text nested too deeply" in refused(write(tmp_path, deep))
    nested = f"config:\n  {NS}:clients: '{'[' * 20}{']' * 20}'\n"
    assert "nested more than 12 levels" in refused(write(tmp_path, nested))
    as_json = "{" + ", ".join(f'"c{i}": {{"kind": "servicePrincipal"}}' for i in range(26)) + "}"
    assert "26 clients" in refused(write(tmp_path, f"config:\n  {NS}:clients: '{as_json}'\n"))


def test_a_legitimate_anchor_and_merge_key_still_work(tmp_path: Path) -> None:
    text = (f"config:\n  {NS}:graphPermissions: &permissions [SynchronizationData-User.Upload, AuditLog.Read.All]\n"
            f"  {NS}:clients:\n"
            "    hr-sync: &client\n      kind: servicePrincipal\n      credential: {type: secret, lifetimeDays: 90}\n"
            "    payroll:\n      <<: *client\n      graphPermissions: *permissions\n")
    stack_file = read_stack_file(write(tmp_path, text))
    settings = settings_or_problems("dev", stack_file, dt.datetime.now(dt.UTC))
    assert isinstance(settings, Settings), settings
    assert stack_file.raw["clients"]["payroll"]["credential"] == {"type": "secret", "lifetimeDays": 90}
    assert stack_file.raw["clients"]["payroll"]["graphPermissions"] == ["SynchronizationData-User.Upload",
                                                                        "AuditLog.Read.All"]


@pytest.mark.parametrize("shipped", sorted(ROOT.glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_the_shipped_stack_files_are_far_inside_every_bound(shipped: Path) -> None:
    if shipped.name == "Pulumi.yaml":
        return
    assert shipped.stat().st_size < limits.MAX_FILE_BYTES // 10
    read_stack_file(shipped)


def _limited() -> None:
    # A few hundred MB at most: the interpreter with Pulumi's SDK imported is about 70 MB.
    resource.setrlimit(resource.RLIMIT_AS, (512 * 1024 * 1024, 512 * 1024 * 1024))


@pytest.mark.parametrize("command", ["plan", "plan_diff"])
def test_the_commands_refuse_a_bomb_in_seconds_and_bounded_memory(tmp_path: Path, command: str) -> None:
    bomb = write(tmp_path, alias_bomb())
    argv = (["--stack", "dev", "--config-file", str(bomb)] if command == "plan"
            else ["--base", str(ROOT / "Pulumi.dev.yaml"), "--pr", str(bomb)])
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", f"tools.plan.{command}", *argv], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False, preexec_fn=_limited)
    assert time.perf_counter() - started < 20, "seconds, on a busy 2-core machine"
    assert "Traceback" not in result.stderr + result.stdout
    if command == "plan":
        assert result.returncode == plan.EXIT_UNREADABLE
        [line] = result.stderr.splitlines()
        assert line.startswith("error: ")
        assert "aliases are expanded" in line
    else:
        assert result.returncode == 1
        assert "aliases are expanded" in result.stdout


@pytest.mark.parametrize("text", [
    f"config:\n  {NS}:x: !{'t' * 100_000} bar\n",  # the parser quotes an unknown tag
    f"config:\n  {NS}:x: *{'a' * 100_000}\n",  # and an undefined alias
], ids=["a long tag", "a long alias"])
def test_the_parsers_message_is_bounded_too(tmp_path: Path, text: str) -> None:
    # The message goes into the pull request's comment (at most 65,536 characters) and the job summary.
    assert len(refused(write(tmp_path, text))) < 1_000


def test_a_stack_file_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "Pulumi.dev.yaml"
    os.mkfifo(fifo)  # open() would wait for a writer forever
    assert "not a regular file" in refused(fifo)


def test_json_text_with_a_number_python_will_not_convert_is_refused(tmp_path: Path) -> None:
    # json.loads raised ValueError (not JSONDecodeError) past 4,300 digits: a traceback, not a refusal.
    huge = f"config:\n  {NS}:clients: '{{\"a\": {'1' * 5000}}}'\n"
    assert "a number of more than 32 characters" in refused(write(tmp_path, huge))


@pytest.mark.parametrize("json_text", ['{"\\ud800": {"kind": "servicePrincipal"}}', '{"a": {"kind": "\\udfff"}}'],
                         ids=["in a key", "in a value"])
def test_json_text_with_a_lone_surrogate_is_refused(tmp_path: Path, json_text: str) -> None:
    # JSON's \ud800 escape decodes to a string no output can encode: the plan crashed writing the error.
    assert "not valid Unicode" in refused(write(tmp_path, f"config:\n  {NS}:clients: '{json_text}'\n"))
