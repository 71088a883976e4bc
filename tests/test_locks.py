"""The hashed lock files agree with the requirement ranges people edit (offline: no resolver, no index).

`make lock` regenerates both locks; these tests fail when a requirements*.txt edit was not followed
by it, or when the two locks would install different versions of a runtime package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

RUNTIME_TXT = "requirements.txt"
DEV_TXT = "requirements-dev.txt"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+?)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")


@dataclass
class Pin:
    version: Version
    marker: str | None
    hashes: set[str] = field(default_factory=set)
    via: set[str] = field(default_factory=set)


def read_lock(text: str) -> dict[str, Pin]:
    """Pins of a `uv pip compile --generate-hashes` file, with their hashes and `# via` annotations."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or (raw.startswith("#") and current is None):
            continue
        if not raw.startswith((" ", "\t")):
            match = PIN.match(raw)
            assert match, f"not an exact pin: {raw!r}"
            name = canonicalize_name(match["name"])
            assert name not in pins, f"{name} pinned twice"
            current = pins[name] = Pin(Version(match["version"]), match["marker"])
        elif current is None:
            raise AssertionError(f"continuation line before any pin: {raw!r}")
        elif line.startswith("--hash="):
            current.hashes.add(line.removeprefix("--hash=").rstrip(" \\"))
        elif line.startswith("#"):  # `# via pkg`, or `# via` followed by one `#   pkg` a line
            via = line.removeprefix("#").strip()
            via = "" if via == "via" else via.removeprefix("via ").strip()
            if via:
                current.via.add(via if via.startswith("-") else canonicalize_name(via))
    return pins


def read_requirements(name: str) -> list[Requirement]:
    """The requirements of one requirements*.txt, without its `-r` includes."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / name).read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


@pytest.fixture(scope="module")
def runtime_lock() -> dict[str, Pin]:
    return read_lock((ROOT / "requirements.lock").read_text())


@pytest.fixture(scope="module")
def dev_lock() -> dict[str, Pin]:
    return read_lock((ROOT / "requirements-dev.lock").read_text())


def test_every_pin_carries_hashes(runtime_lock: dict[str, Pin], dev_lock: dict[str, Pin]) -> None:
    for lock in (runtime_lock, dev_lock):
        assert lock
        for name, pin in lock.items():
            assert pin.hashes, f"{name} has no hash: installs use --require-hashes"
            assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes), name


@pytest.mark.parametrize(("lock_name", "inputs"), [
    ("requirements.lock", [RUNTIME_TXT]),
    ("requirements-dev.lock", [RUNTIME_TXT, DEV_TXT]),
])
def test_each_requirement_is_pinned_within_its_range(lock_name: str, inputs: list[str]) -> None:
    lock = read_lock((ROOT / lock_name).read_text())
    for txt in inputs:
        for requirement in read_requirements(txt):
            pin = lock.get(canonicalize_name(requirement.name))
            assert pin is not None, f"{requirement.name} ({txt}) is not in {lock_name}: run `make lock`"
            assert requirement.specifier.contains(pin.version, prereleases=True), (
                f"{lock_name} pins {requirement.name}=={pin.version}, outside {txt}'s {requirement.specifier}: "
                "run `make lock`")


@pytest.mark.parametrize(("lock_name", "inputs"), [
    ("requirements.lock", [RUNTIME_TXT]),
    ("requirements-dev.lock", [RUNTIME_TXT, DEV_TXT]),
])
def test_nothing_is_locked_for_a_requirement_that_was_removed(lock_name: str, inputs: list[str]) -> None:
    lock = read_lock((ROOT / lock_name).read_text())
    for txt in inputs:
        wanted = {canonicalize_name(r.name) for r in read_requirements(txt)}
        locked_for_txt = {name for name, pin in lock.items() if f"-r {txt}" in pin.via}
        assert locked_for_txt == wanted, f"{lock_name} is stale for {txt}: run `make lock`"
    # Everything else is there because a locked package needs it.
    for name, pin in lock.items():
        assert pin.via & (set(lock) | {f"-r {txt}" for txt in inputs}), f"{name} in {lock_name} is needed by nothing"


def test_dev_lock_installs_the_runtime_lock_unchanged(runtime_lock: dict[str, Pin], dev_lock: dict[str, Pin]) -> None:
    # `make test` checks what `make up` deploys, and venv/.installed stands in for venv/.runtime.
    for name, pin in runtime_lock.items():
        assert name in dev_lock, f"{name} is in requirements.lock but not in requirements-dev.lock"
        dev = dev_lock[name]
        assert (dev.version, dev.marker, dev.hashes) == (pin.version, pin.marker, pin.hashes), name


def test_uv_is_pinned_for_the_bootstrap(dev_lock: dict[str, Pin]) -> None:
    # The Makefile pip-installs uv from this entry (--require-hashes) before anything else.
    uv = dev_lock[canonicalize_name("uv")]
    assert uv.marker is None, "uv is needed on every platform"
    assert len(uv.hashes) > 1, "one hash per platform's wheel"


def test_the_lock_reader_notices_a_stale_lock() -> None:
    lock = read_lock("# header\nfoo==1.2 \\\n    --hash=sha256:" + "0" * 64 + " \\\n    # via -r requirements.txt\n"
                     "bar==2.0 ; sys_platform == 'win32' \\\n    --hash=sha256:" + "1" * 64 + "\n"
                     "    # via\n    #   -r requirements.txt\n    #   foo\n")
    assert lock["foo"] == Pin(Version("1.2"), None, {"sha256:" + "0" * 64}, {"-r requirements.txt"})
    assert lock["bar"].marker == "sys_platform == 'win32'"
    assert lock["bar"].via == {"-r requirements.txt", "foo"}
    assert not Requirement("foo>=2,<3").specifier.contains(lock["foo"].version)
    with pytest.raises(AssertionError, match="not an exact pin"):
        read_lock("foo>=1\n")


# What the workflows run with the runtime lock alone (jobs that can sign in install nothing else).
RUNTIME_ONLY_MODULES = ("tools.plan.plan_diff", "tools.plan.plan", "tools.stack.stacks", "tools.stack.expiry",
                        "tools.verify.verify", "tools.audit.audit", "components.access", "policy.rules")

_BLOCK_DEV_ONLY = """
import importlib.abc, importlib.metadata, re, sys
dev_only = set(sys.argv[1].split(","))
blocked = {top for top, dists in importlib.metadata.packages_distributions().items()
           if all(re.sub(r"[-_.]+", "-", d).lower() in dev_only for d in dists)}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is installed only by requirements-dev.lock")
sys.meta_path.insert(0, Block())
for module in sys.argv[2].split(","):
    __import__(module)
"""


def test_what_the_workflows_run_needs_only_the_runtime_lock(runtime_lock: dict[str, Pin],
                                                            dev_lock: dict[str, Pin]) -> None:
    import subprocess
    import sys

    dev_only = sorted(set(dev_lock) - set(runtime_lock))
    assert "pytest" in dev_only
    result = subprocess.run(
        [sys.executable, "-c", _BLOCK_DEV_ONLY, ",".join(dev_only), ",".join(RUNTIME_ONLY_MODULES)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # The blocker itself works: a dev-only import fails under it.
    failing = subprocess.run(
        [sys.executable, "-c", _BLOCK_DEV_ONLY, ",".join(dev_only), "hypothesis"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert "installed only by requirements-dev.lock" in failing.stderr
