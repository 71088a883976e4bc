# inbound-provisioning-access
#   make test              lint, type check and tests; works offline, no Pulumi CLI or Azure needed
#   make up STACK=dev      deploy a stack (Pulumi CLI, `az login` as a deployer)
#   make preview STACK=dev pulumi preview --diff
#   make plan STACK=dev    offline access plan (Markdown), no CLI, no credentials
#   make plan-diff PR=<dir>/Pulumi.dev.yaml   access diff of that stack file against this checkout's
#   make verify STACK=dev  prove each client's token carries its grants (ARGS=--help)
#   make check-expiry STACK=dev  fail when a deployed credential expires within 30 days
#   make adopt STACK=dev   find what the tutorial made, print (ARGS=--write: write) the adopt blocks
#   make bench             benchmarks under the mock engine
#   make schema            regenerate schema.json, the component package's schema (ARGS=--check: compare)

PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
STACK ?=
ARGS ?=

.PHONY: test lint typecheck unit up preview plan plan-diff verify check-expiry adopt bench schema clean

# The virtualenv is rebuilt when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

test: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

up preview: $(VENV)/.installed
	@STACK="$(STACK)" ARGS="$(ARGS)" ./tools/pulumi-stack.sh $@

plan: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make plan STACK=<stack>" >&2; exit 2; }
	@$(PY) -m tools.plan --stack "$(STACK)" $(ARGS)

# The other stack file is data only: this checkout's code computes the diff (BASE defaults to
# this checkout's file of the same name).
plan-diff: $(VENV)/.installed
	@test -n "$(PR)" || { echo "usage: make plan-diff PR=<path>/Pulumi.<stack>.yaml [BASE=<file>]" >&2; exit 2; }
	@$(PY) -m tools.plan_diff --pr "$(PR)" --base "$(or $(BASE),$(notdir $(PR)))" $(ARGS)

verify: $(VENV)/.installed
	@$(PY) -m tools.verify $(if $(STACK),--stack "$(STACK)") $(ARGS)

check-expiry: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make check-expiry STACK=<stack>" >&2; exit 2; }
	@$(PY) -m tools.expiry --stack "$(STACK)" $(ARGS)

adopt: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "usage: make adopt STACK=<stack> [ARGS=--write]" >&2; exit 2; }
	@$(PY) -m tools.adopt --stack "$(STACK)" $(ARGS)

bench: $(VENV)/.installed
	$(PY) -m benchmarks.bench $(ARGS)

# Inferred in-process from components/access.py (no Pulumi CLI); the tests fail when it is stale.
schema: $(VENV)/.installed
	@$(PY) -m tools.schema $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
