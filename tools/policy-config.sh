#!/usr/bin/env bash
# Writes the policy pack's config (policy/rules.py) to $1:
# - the object id of Microsoft Graph's service principal in the tenant signed in to, which the
#   graph-roles-allowlist policy compares every grant's resource with (and the whole-stack policy,
#   which runs that rule again over imported resources). Set GRAPH_SERVICE_PRINCIPAL_OBJECT_ID to
#   skip the `az` lookup;
# - for the stack $2 (or $STACK, as `make up` / `make preview` set it), the principal object id of
#   every existing identity (clients.<key>.existing in ./Pulumi.<stack>.yaml): the whole-stack policy
#   refuses a grant of such a client to any other principal. objectId is taken as it is; displayName
#   and clientId are looked up with `az` and must match exactly one service principal.
#   Without a stack the map is left out, and the existing-identity-principals policy says (advisory)
#   that those grants went unchecked.
set -euo pipefail

out="${1:?usage: policy-config.sh OUTPUT.json [STACK]}"
stack="${2:-${STACK:-}}"
here="$(cd "$(dirname "$0")/.." && pwd)"
guid='^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$'

need_az() {
  if ! command -v az >/dev/null 2>&1; then
    echo "error: the policy pack needs $1: sign in with the Azure CLI (az login)${2:+ or $2}" >&2
    exit 2
  fi
}

graph="${GRAPH_SERVICE_PRINCIPAL_OBJECT_ID:-}"
if [ -z "$graph" ]; then
  need_az "Microsoft Graph's service principal object id" "set GRAPH_SERVICE_PRINCIPAL_OBJECT_ID"
  graph="$(az ad sp show --id 00000003-0000-0000-c000-000000000000 --query id -o tsv)"
fi
if ! [[ "$graph" =~ $guid ]]; then
  echo "error: not an object id for Microsoft Graph's service principal: '$graph'" >&2
  exit 2
fi

whole_stack="" advisory=""
if [ -z "$stack" ]; then
  echo "note: no stack given (policy-config.sh OUTPUT.json STACK): grants to existing identities will be checked only as advisory" >&2
else
  python="$here/venv/bin/python"
  [ -x "$python" ] || python=python3
  stack_file="$(pwd)/Pulumi.$stack.yaml"
  identities="$(cd "$here" && "$python" -m tools.stack.existing_identities "$stack_file" "$stack")"
  map=""
  while IFS=$'\t' read -r key lookup value; do
    [ -n "$key" ] || continue
    case "$lookup" in
      objectId) ids="$value" ;;
      displayName)
        need_az "the object id of clients.$key.existing.displayName '$value'"
        ids="$(az ad sp list --filter "displayName eq '${value//\'/\'\'}'" --query "[].id" -o tsv)" || {
          echo "error: clients.$key.existing.displayName '$value': az ad sp list failed (its message is above)" >&2
          exit 2
        } ;;
      clientId)
        need_az "the object id of clients.$key.existing.clientId '$value'"
        ids="$(az ad sp show --id "$value" --query id -o tsv)" || {
          echo "error: clients.$key.existing.clientId '$value': az found no service principal with that client id (its message is above)" >&2
          exit 2
        } ;;
      *) echo "error: clients.$key.existing: unknown lookup '$lookup'" >&2; exit 2 ;;
    esac
    count="$(printf '%s' "$ids" | grep -c . || true)"
    if [ "$count" != 1 ] || ! [[ "$ids" =~ $guid ]]; then
      echo "error: clients.$key.existing.$lookup '$value' names $count service principals, not exactly one: the policy pack cannot tell which principal its grants may go to" >&2
      exit 2
    fi
    map="${map:+$map, }\"$key\": \"$ids\""
  done <<< "$identities"
  whole_stack=", \"existingIdentityPrincipals\": {$map}"
  advisory=", \"existing-identity-principals\": {\"existingIdentityPrincipals\": {$map}}"
fi
printf '{"graph-roles-allowlist": {"graphServicePrincipalObjectId": "%s"}, "whole-stack": {"graphServicePrincipalObjectId": "%s"%s}%s}\n' \
  "$graph" "$graph" "$whole_stack" "$advisory" > "$out"
