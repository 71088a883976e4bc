#!/usr/bin/env bash
# make up / make preview: select or create the stack, then run pulumi against it.
# State goes to a local file backend inside the checkout (.pulumi-state/) unless
# PULUMI_BACKEND_URL is already set (Pulumi Cloud, azblob://, s3://, ...).
set -euo pipefail

action="${1:?usage: pulumi-stack.sh up|preview}"
stack="${STACK:-}"
here="$(cd "$(dirname "$0")/.." && pwd)"

case " ${ARGS:-} " in
  *" --help "* | *" -h "*)
    example='--yes --skip-preview'
    [ "$action" = preview ] && example='--refresh --expect-no-changes'
    cat <<USAGE
usage: make $action STACK=<stack> [ARGS="<pulumi $action flags>"]

Selects the stack (creating it if new), then runs \`pulumi ${action/preview/preview --diff}\`
with this checkout's guardrails (policy/). State goes to .pulumi-state/ in the checkout,
which needs PULUMI_CONFIG_PASSPHRASE, unless PULUMI_BACKEND_URL names another backend.
ARGS go to pulumi as they are, e.g. ARGS="$example" (\`pulumi $action --help\`).
USAGE
    exit 0 ;;
esac
if [ -z "$stack" ]; then
  echo "usage: make $action STACK=<stack>   (for example: make $action STACK=dev)" >&2
  exit 2
fi
# A partial update writes the stack's outputs over what it skipped or failed as unknown, and can leave a
# credential made but not recorded: renewal would have to stop (docs/credentials-and-renewal.md#partial-updates).
partial="--target, -t, --exclude, -x, --target-dependents, --exclude-dependents, --target-replace, --continue-on-error"
for arg in ${ARGS:-}; do
  # pflag bundles boolean shorthands (-y, -f, -r, -d, -j) before a value-taking one: -yt <urn> is --target.
  flag="$arg"
  if [[ "$arg" =~ ^-[yfrdj]*t ]]; then flag="-t"; fi
  case "$flag" in
    --target | --target=* | -t | -t?* | --exclude | --exclude=* | -x | -x?* | --target-dependents* | \
      --exclude-dependents* | --target-replace* | --continue-on-error*)
      echo "error: make $action refuses $arg: a partial update ($partial) leaves the renewal record and the" \
        "credentials it tracks half-written (docs/credentials-and-renewal.md#partial-updates); deploy the whole" \
        "stack, or run pulumi yourself and follow that page's recovery steps" >&2
      exit 2 ;;
  esac
done
# The CLI reads it as true when it is "1" or "true" in any case (cmdutil.IsTruthy).
continue_on_error="${PULUMI_CONTINUE_ON_ERROR:-}"
case "${continue_on_error,,}" in
  1 | true)
    echo "error: make $action refuses PULUMI_CONTINUE_ON_ERROR=$PULUMI_CONTINUE_ON_ERROR (--continue-on-error):" \
      "see docs/credentials-and-renewal.md#partial-updates" >&2
    exit 2 ;;
esac
if ! command -v pulumi >/dev/null 2>&1; then
  cat >&2 <<'MSG'
error: the Pulumi CLI (`pulumi`) is not on PATH.
Install it, then run this again:
  curl -fsSL https://get.pulumi.com | sh       # Linux / macOS
  brew install pulumi/tap/pulumi               # Homebrew
  winget install pulumi                        # Windows
See https://www.pulumi.com/docs/install/
MSG
  exit 127
fi

if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  mkdir -p "$here/.pulumi-state"
  export PULUMI_BACKEND_URL="file://$here/.pulumi-state"
fi
case "$PULUMI_BACKEND_URL" in
  file://*)
    if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
      echo "error: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE): it encrypts this stack's secrets in $PULUMI_BACKEND_URL" >&2
      exit 2
    fi
    ;;
esac

case "$action" in
  up | preview) ;;
  *) echo "unknown action: $action (up or preview)" >&2; exit 2 ;;
esac

# The guardrails (policy/) run on every preview and up, from this checkout.
policy_config="$(mktemp)"
trap 'rm -f "$policy_config"' EXIT
"$here/tools/policy-config.sh" "$policy_config" "$stack"
policy=(--policy-pack "$here/policy" --policy-pack-config "$policy_config")

cd "$here"
pulumi stack select --create "$stack" --non-interactive
# A create an earlier run began and never finished (cancelled, runner killed) may exist unmanaged:
# deploying over it would make it again (tools/stack/pending.py says what to do instead).
"${PYTHON:-$here/venv/bin/python}" -m tools.stack.pending --stack "$stack"
# ARGS is split on purpose: extra flags for pulumi, e.g. ARGS="--yes --skip-preview".
# shellcheck disable=SC2086
case "$action" in
  up)
    # `pulumi up` previews with the pack before it changes anything. --skip-preview would leave the
    # whole-stack policy to after every change is made: preview (same code, config, pack) first, and go
    # on only if it passes (set -e).
    case " ${ARGS:-} " in
      *" --skip-preview"[\ =]*) pulumi preview --stack "$stack" "${policy[@]}" ;;
    esac
    pulumi up --stack "$stack" "${policy[@]}" ${ARGS:-} ;;
  preview) pulumi preview --diff --stack "$stack" "${policy[@]}" ${ARGS:-} ;;
esac
