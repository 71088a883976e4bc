# inbound-provisioning-access. `make` (or `make help`) lists the commands: each is the `## `
# comment above its rule, `## <usage> | <what it does>`, so the list cannot drift from the rules.
# ARGS=--help prints a command's own options, and needs no STACK.
#
# Dependencies: requirements.txt (run time) and requirements-dev.txt (+ lint, types, tests) are
# the ranges people edit; `make lock` pins them, with hashes, for every platform, into
# requirements.lock and requirements-dev.lock. Installs only ever come from a lock, hash-checked:
#   venv/.installed   everything in requirements-dev.lock (test, plan, plan-diff, check-expiry,
#                     adopt, bench, schema)
#   venv/.runtime     only requirements.lock (up, preview, verify, audit)
# Each first bootstraps uv into venv/uv/ with pip, from uv's hashed pin in requirements-dev.lock.

PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
UV := $(VENV)/uv/bin/uv
STACK ?=
ARGS ?=
# uv reads no pip settings; UV_* variables (e.g. UV_INDEX_URL for a mirror) still apply.
UV_INSTALL = $(UV) pip install --quiet --python $(PY) --require-hashes
UV_LOCK = $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(ARGS)

# A bare `make` lists the commands.
.DEFAULT_GOAL := help
MAKEFILE := $(lastword $(MAKEFILE_LIST))
# ARGS=--help (or -h): the command prints its options, so no STACK or PR is needed.
HELP := $(filter -h --help,$(ARGS))

.PHONY: help test up preview plan plan-diff verify check-expiry adopt audit bootstrap bench schema bench-setup lock clean

## help | this list
help:
	@echo "make <command> [STACK=<stack>] [ARGS=...]; ARGS=--help prints a command's options."
	@echo "A failed command makes make exit 2; its own exit status ends make's last line (Error <status>)."
	@echo
	@awk 'BEGIN { FS = " [|] " } /^## / { sub(/^## /, ""); n++; use[n] = $$1; what[n] = $$2; \
		if (length($$1) > width) width = length($$1) } \
		END { for (i = 1; i <= n; i++) printf "  make %-" width "s   %s\n", use[i], what[i] }' $(MAKEFILE)

# venv/ starts without pip (seeding it costs seconds); the locks install the pip Pulumi runs
# there. uv's pin, with a hash per platform's wheel, is its entry in requirements-dev.lock; it is
# installed with the pip that comes with Python or, where a distribution leaves that out, with
# a throwaway venv's.
$(UV):
	$(PYTHON) -m venv --without-pip $(VENV)
	awk '/^[^ #]/ { keep = /^uv==/ } keep' requirements-dev.lock > $(VENV)/uv-requirements.txt
	pip="$(PYTHON) -m pip"; $$pip --version >/dev/null 2>&1 || { \
		$(PYTHON) -m venv $(VENV)/bootstrap && pip="$(VENV)/bootstrap/bin/python -m pip"; }; \
	PIP_USER=0 PIP_REQUIRE_VIRTUALENV=0 PIP_ROOT_USER_ACTION=ignore $$pip install --quiet \
		--disable-pip-version-check --require-hashes --no-deps --target $(VENV)/uv -r $(VENV)/uv-requirements.txt

# requirements-dev.lock pins every package of requirements.lock at the same version
# (tests/test_locks.py), so the dev install satisfies the runtime one too.
$(VENV)/.installed: requirements-dev.lock | $(UV)
	$(UV_INSTALL) -r requirements-dev.lock
	touch $(VENV)/.runtime $@

$(VENV)/.runtime: requirements.lock | $(UV)
	$(UV_INSTALL) -r requirements.lock
	touch $@

# Tests on every core. mypy --strict runs as the first test (tests/test_typing.py), so it overlaps
# the suite instead of running before it. worksteal: a worker busy with mypy or the long deploy
# simulation (tests/test_credentials_renewal.py) hands its queued tests to the others.
# uv writes no bytecode, and Python may be told not to either (PYTHONDONTWRITEBYTECODE, as on this
# project's machines): then both workers and every tool a test runs (about 40 processes) would
# compile their imports again. The test run writes bytecode instead, so each module is compiled once,
# by the first process that imports it (an empty value unsets the variable for Python); that costs
# less than compiling all of site-packages ahead of the run.
## test | lint, type check and tests (offline: no Pulumi CLI, no Azure)
test: $(VENV)/.installed
	$(PY) -m ruff check .
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n auto --dist worksteal

## up STACK=<stack> | deploy a stack (Pulumi CLI, `az login` as a deployer)
## preview STACK=<stack> | pulumi preview --diff, with the guardrails
up preview: $(VENV)/.runtime
	@STACK="$(STACK)" ARGS="$(ARGS)" ./tools/pulumi-stack.sh $@

## plan STACK=<stack> | the access plan (Markdown), offline: no Pulumi CLI, no credentials
plan: $(VENV)/.installed
	@test -n "$(STACK)$(HELP)" || { echo "usage: make plan STACK=<stack>" >&2; exit 2; }
	@$(PY) -m tools.plan.plan $(if $(STACK),--stack "$(STACK)") $(ARGS)

# The other stack file is data only: this checkout's code computes the diff. Without BASE the base is this
# checkout's Pulumi.<stack>.yaml, <stack> from PR's file name or ARGS=--stack; the command refuses a missing
# one unless ARGS=--new-stack says the stack is new (it would compare against nothing).
## plan-diff PR=<stack file> | the access diff of another Pulumi.<stack>.yaml against this checkout's
plan-diff: $(VENV)/.installed
	@test -n "$(PR)$(HELP)" || { echo "usage: make plan-diff PR=<path>/Pulumi.<stack>.yaml [BASE=<file>]" >&2; exit 2; }
	@$(PY) -m tools.plan.plan_diff $(if $(PR),--pr "$(PR)") $(if $(BASE),--base "$(BASE)") $(ARGS)

## verify STACK=<stack> | prove each client's token carries its grants
verify: $(VENV)/.runtime
	@$(PY) -m tools.verify.verify $(if $(STACK),--stack "$(STACK)") $(ARGS)

## check-expiry STACK=<stack> | fail when a deployed credential expires within 30 days
check-expiry: $(VENV)/.installed
	@test -n "$(STACK)$(HELP)" || { echo "usage: make check-expiry STACK=<stack>" >&2; exit 2; }
	@$(PY) -m tools.stack.expiry $(if $(STACK),--stack "$(STACK)") $(ARGS)

## adopt STACK=<stack> | find what the tutorial made; print (ARGS=--write: write) adopt blocks
adopt: $(VENV)/.installed
	@test -n "$(STACK)$(HELP)" || { echo "usage: make adopt STACK=<stack> [ARGS=--write]" >&2; exit 2; }
	@$(PY) -m tools.adopt.adopt $(if $(STACK),--stack "$(STACK)") $(ARGS)

# The runtime lock only, like verify: it signs in to the tenant, and the scheduled workflow runs it
# where only the runtime dependencies are installed (docs/audit.md).
## audit STACK=<stack> | read-only: every credential, owner and grant the stack did not declare
audit: $(VENV)/.runtime
	@test -n "$(STACK)$(HELP)" || { echo "usage: make audit STACK=<stack> [ARGS=--json]" >&2; exit 2; }
	@$(PY) -m tools.audit.audit $(if $(STACK),--stack "$(STACK)") $(ARGS)

# A Pulumi project of its own (bootstrap/), with its state in bootstrap/.pulumi-state/, apart from the HR stacks'.
## bootstrap STACK=<name> | the pipeline's identities and GitHub settings (bootstrap/): preview, then deploy
bootstrap: $(VENV)/.runtime
	@STACK="$(STACK)" ARGS="$(ARGS)" ./bootstrap/pulumi-bootstrap.sh

## bench | benchmarks under the mock engine (ARGS=--strict: fail on a missed target)
bench: $(VENV)/.installed
	@$(PY) -m benchmarks.bench $(ARGS)

# Inferred in-process from components/access.py and access_args.py (no Pulumi CLI); the tests fail
# when it is stale.
## schema | regenerate schema.json, the package's schema (ARGS=--check: compare)
schema: $(VENV)/.installed
	@$(PY) -m tools.schema $(ARGS)

# Standard library only: it builds its own venv in a temporary clone.
## bench-setup | time a fresh-clone `make test`, stage by stage
bench-setup:
	$(PYTHON) -m benchmarks.fresh_clone $(ARGS)

# Runtime first; the dev lock is constrained to its pins, so both agree.
## lock | re-pin the lock files after editing requirements*.txt (ARGS=--upgrade)
lock: | $(UV)
ifneq ($(HELP),)
	@echo "usage: make lock [ARGS=--upgrade]: re-pins requirements.lock, then requirements-dev.lock (constrained"
	@echo "to the runtime pins), with hashes for every platform, after an edit of requirements*.txt; ARGS go"
	@echo "to uv pip compile (--upgrade: the newest versions the ranges allow)."
else
	$(UV_LOCK) requirements.txt -o requirements.lock
	$(UV_LOCK) requirements-dev.txt -c requirements.lock -o requirements-dev.lock
endif

## clean | remove venv/ and the tools' caches
clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
