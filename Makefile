# inbound-provisioning-access
#   make test              lint, type check and tests; works offline, no Pulumi CLI or Azure needed
#   make up STACK=dev      deploy a stack (Pulumi CLI, `az login` as a deployer)
#   make preview STACK=dev pulumi preview --diff
#   make plan STACK=dev    offline access plan (Markdown), no CLI, no credentials
#   make plan-diff PR=<dir>/Pulumi.dev.yaml   access diff of that stack file against this checkout's
#   make verify STACK=dev  prove each client's token carries its grants (ARGS=--help)
#   make check-expiry STACK=dev  fail when a deployed credential expires within 30 days
#   make adopt STACK=dev   find what the tutorial made, print (ARGS=--write: write) the adopt blocks
#   make audit STACK=dev   read-only: every credential, owner and grant in the tenant the stack did not declare
#   make bench             benchmarks under the mock engine
#   make schema            regenerate schema.json, the component package's schema (ARGS=--check: compare)
#   make bench-setup       time a fresh-clone `make test`, stage by stage (benchmarks/README.md)
#   make lock              regenerate the lock files after editing requirements*.txt (ARGS=--upgrade)
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
# uv writes no bytecode, and Python may be told not to either (PYTHONDONTWRITEBYTECODE, as on
# this project's machines), which makes every test process compile its imports again. So compile
# once, on all cores, all of site-packages but what no test process imports from source:
# pulumi-azure-native's ~260 services (we use one), pip, debugpy, and mypy (compiled to C).
COMPILE = $(PY) -m compileall -q -j 0 -x '/(pulumi_azure_native|pip|debugpy|mypy|mypyc)/' \
	"$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
UV_LOCK = $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(ARGS)

.PHONY: test lint typecheck unit up preview plan plan-diff verify check-expiry adopt audit bench schema bench-setup lock clean

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
	$(COMPILE)
	touch $(VENV)/.runtime $@

$(VENV)/.runtime: requirements.lock | $(UV)
	$(UV_INSTALL) -r requirements.lock
	touch $@

# Tests on every core. worksteal: a worker stuck on the long deploy simulation
# (tests/test_credentials.py) hands its queued tests to the others.
test: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -n auto --dist worksteal

up preview: $(VENV)/.runtime
	@STACK="$(STACK)" ARGS="$(ARGS)" ./tools/pulumi-stack.sh $@

plan: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make plan STACK=<stack>" >&2; exit 2; }
	@$(PY) -m tools.plan --stack "$(STACK)" $(ARGS)

# The other stack file is data only: this checkout's code computes the diff (BASE defaults to
# this checkout's file of the same name).
plan-diff: $(VENV)/.installed
	@test -n "$(PR)" || { echo "usage: make plan-diff PR=<path>/Pulumi.<stack>.yaml [BASE=<file>]" >&2; exit 2; }
	@$(PY) -m tools.plan_diff --pr "$(PR)" --base "$(or $(BASE),$(notdir $(PR)))" $(ARGS)

verify: $(VENV)/.runtime
	@$(PY) -m tools.verify $(if $(STACK),--stack "$(STACK)") $(ARGS)

check-expiry: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make check-expiry STACK=<stack>" >&2; exit 2; }
	@$(PY) -m tools.expiry --stack "$(STACK)" $(ARGS)

adopt: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make adopt STACK=<stack> [ARGS=--write]" >&2; exit 2; }
	@$(PY) -m tools.adopt --stack "$(STACK)" $(ARGS)

# The runtime lock only, like verify: it signs in to the tenant, and the scheduled workflow runs it
# where only the runtime dependencies are installed (docs/audit.md).
audit: $(VENV)/.runtime
	@test -n "$(STACK)" || { echo "usage: make audit STACK=<stack> [ARGS=--json]" >&2; exit 2; }
	@$(PY) -m tools.audit --stack "$(STACK)" $(ARGS)

bench: $(VENV)/.installed
	$(PY) -m benchmarks.bench $(ARGS)

# Inferred in-process from components/access.py and access_args.py (no Pulumi CLI); the tests fail
# when it is stale.
schema: $(VENV)/.installed
	@$(PY) -m tools.schema $(ARGS)

# Standard library only: it builds its own venv in a temporary clone.
bench-setup:
	$(PYTHON) -m benchmarks.fresh_clone $(ARGS)

# Runtime first; the dev lock is constrained to its pins, so both agree.
lock: | $(UV)
	$(UV_LOCK) requirements.txt -o requirements.lock
	$(UV_LOCK) requirements-dev.txt -c requirements.lock -o requirements-dev.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
