#!/usr/bin/env bash
# Writes the policy pack's config (policy/rules.py) to $1:
# - the object id of Microsoft Graph's service principal in the tenant signed in to, which the
#   graph-roles-allowlist policy compares every grant's resource with (and the whole-stack policy,
#   which runs that rule again over imported resources). Set GRAPH_SERVICE_PRINCIPAL_OBJECT_ID to
#   skip the `az` lookup;
# - how the pipeline signs in (signIn: ARM_TENANT_ID, ARM_CLIENT_ID, ARM_SUBSCRIPTION_ID, or else the
#   tenant and subscription of `az account show`): a provider that signs in otherwise is refused;
# - for the stack $2 (or $STACK, as `make up` / `make preview` set it), what ./Pulumi.<stack>.yaml
#   declares (stackFile: client keys and kinds, permissions, credential forms, federated issuers and
#   subjects, Key Vault vaults and readers, the provisioning app; tools/stack/declared.py): the
#   stack-file and whole-stack policies refuse anything the file does not declare; and the principal
#   object id of every existing identity (clients.<key>.existing): a grant of such a client to any
#   other principal is refused. objectId is taken as it is; displayName and clientId are looked up
#   with `az` and must match exactly one service principal.
#   Without a stack both are left out, and the whole-stack policy refuses the stack: it has nothing to
#   compare it with.
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

# How the pipeline signs in (the providers' ARM_* variables), or else whom `az` is signed in as.
tenant="${ARM_TENANT_ID:-}" client="${ARM_CLIENT_ID:-}" subscription="${ARM_SUBSCRIPTION_ID:-}"
if [ -z "$tenant" ] && command -v az >/dev/null 2>&1; then
  { read -r tenant || true; read -r account || true; } < <(az account show --query "[tenantId, id]" -o tsv 2>/dev/null || true)
  subscription="${subscription:-${account:-}}"
fi
for value in "$tenant" "$client" "$subscription"; do
  if [ -n "$value" ] && ! [[ "$value" =~ $guid ]]; then
    echo "error: not a GUID in the pipeline's sign-in (ARM_TENANT_ID, ARM_CLIENT_ID, ARM_SUBSCRIPTION_ID): '$value'" >&2
    exit 2
  fi
done
sign_in="\"signIn\": {\"tenantId\": \"$tenant\", \"clientId\": \"$client\", \"subscriptionId\": \"$subscription\"}"

whole_stack="" stack_policy="" advisory=""
if [ -z "$stack" ]; then
  echo "note: no stack given (policy-config.sh OUTPUT.json STACK): the whole-stack policy will refuse the stack, having no stack file to compare it with" >&2
else
  python="$here/venv/bin/python"
  [ -x "$python" ] || python=python3
  stack_file="$(pwd)/Pulumi.$stack.yaml"
  declared_file="$(mktemp)"
  trap 'rm -f "$declared_file"' EXIT
  identities="$(cd "$here" && "$python" -m tools.stack.existing_identities "$stack_file" "$stack" --declared "$declared_file")"
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
  declared="$(cat "$declared_file")"
  whole_stack=", \"existingIdentityPrincipals\": {$map}, \"stackFile\": $declared"
  stack_policy=", \"stack-file\": {\"existingIdentityPrincipals\": {$map}, \"stackFile\": $declared}"
  advisory=", \"existing-identity-principals\": {\"existingIdentityPrincipals\": {$map}}"
fi
printf '{"graph-roles-allowlist": {"graphServicePrincipalObjectId": "%s"}, "access-fields": {%s}, "whole-stack": {"graphServicePrincipalObjectId": "%s", %s%s}%s%s}\n' \
  "$graph" "$sign_in" "$graph" "$sign_in" "$whole_stack" "$stack_policy" "$advisory" > "$out"
