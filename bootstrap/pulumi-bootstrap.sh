#!/usr/bin/env bash
# make bootstrap: the pipeline's identities and GitHub settings (bootstrap/), previewed, then deployed
# (`pulumi up` shows the preview and asks before it changes anything; ARGS=--yes skips the question).
# State goes to bootstrap/.pulumi-state/ (git-ignored), apart from the HR stacks', unless
# BOOTSTRAP_BACKEND_URL names another backend; PULUMI_BACKEND_URL, which names the HR stacks', is ignored.
set -euo pipefail

stack="${STACK:-}"
here="$(cd "$(dirname "$0")" && pwd)"

case " ${ARGS:-} " in
  *" --help "* | *" -h "*)
    cat <<USAGE
usage: make bootstrap STACK=<name> [ARGS="<pulumi up flags>"]

Creates or updates the pipeline's three identities (pull request previews, the access audit, the
deploys) and the GitHub environments, variables, secrets and rule on main that the workflows use,
from bootstrap/Pulumi.<name>.yaml (start from bootstrap/Pulumi.example.yaml).

It needs:
  - az login (--allow-no-subscriptions) as a Privileged Role Administrator of the tenant, who
    may also assign the Azure roles the stack file lists (Owner or Role Based Access Control
    Administrator at their scopes);
  - GITHUB_TOKEN: a token that administers the repository (fine-grained: Administration,
    Environments, Secrets and Variables, read and write);
  - the Pulumi CLI, and PULUMI_CONFIG_PASSPHRASE (or _FILE) for the state in
    bootstrap/.pulumi-state/ (BOOTSTRAP_BACKEND_URL names another backend).

\`pulumi up\` previews, then asks before it changes anything. ARGS go to it as they are,
e.g. ARGS="--yes" or ARGS="--refresh". Rotate, remove: docs/gitops.md.
USAGE
    exit 0 ;;
esac
if [ -z "$stack" ]; then
  echo "usage: make bootstrap STACK=<name>   (its stack file: bootstrap/Pulumi.<name>.yaml)" >&2
  exit 2
fi
if [ ! -f "$here/Pulumi.$stack.yaml" ]; then
  echo "error: no bootstrap/Pulumi.$stack.yaml: copy bootstrap/Pulumi.example.yaml to it and edit it" >&2
  exit 2
fi

missing=()
if [ -z "${GITHUB_TOKEN:-}" ]; then
  missing+=("a GitHub token (set GITHUB_TOKEN to a token that administers the repository)")
fi
if ! command -v az >/dev/null 2>&1; then
  missing+=("an Azure sign-in (the Azure CLI, az, is not on PATH)")
elif ! az account show --only-show-errors >/dev/null 2>&1; then
  missing+=("an Azure sign-in (run az login --allow-no-subscriptions as a Privileged Role Administrator)")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  joined="${missing[0]}"
  [ "${#missing[@]}" -gt 1 ] && joined="$joined and ${missing[1]}"
  echo "error: missing $joined" >&2
  exit 2
fi
if ! command -v pulumi >/dev/null 2>&1; then
  echo "error: the Pulumi CLI (pulumi) is not on PATH: https://www.pulumi.com/docs/install/" >&2
  exit 127
fi

export PULUMI_BACKEND_URL="${BOOTSTRAP_BACKEND_URL:-file://$here/.pulumi-state}"
case "$PULUMI_BACKEND_URL" in
  file://*)
    mkdir -p "${PULUMI_BACKEND_URL#file://}"
    if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
      echo "error: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE): it encrypts the bootstrap's secrets in $PULUMI_BACKEND_URL" >&2
      exit 2
    fi
    ;;
esac

cd "$here"
pulumi stack select --create "$stack" --non-interactive
# ARGS is split on purpose: extra flags for pulumi, e.g. ARGS="--yes".
# shellcheck disable=SC2086
pulumi up --diff --stack "$stack" ${ARGS:-}
