#!/usr/bin/env bash
# Writes the policy pack's config (policy/rules.py) to $1: the object id of Microsoft Graph's
# service principal in the tenant signed in to, which the graph-roles-allowlist policy compares
# every grant's resource with (and the whole-stack policy, which runs that rule again over imported
# resources). Set GRAPH_SERVICE_PRINCIPAL_OBJECT_ID to skip the `az` lookup.
set -euo pipefail

out="${1:?usage: policy-config.sh OUTPUT.json}"
graph="${GRAPH_SERVICE_PRINCIPAL_OBJECT_ID:-}"
if [ -z "$graph" ]; then
  if ! command -v az >/dev/null 2>&1; then
    echo "error: the policy pack needs Microsoft Graph's service principal object id: sign in with the Azure CLI (az login) or set GRAPH_SERVICE_PRINCIPAL_OBJECT_ID" >&2
    exit 2
  fi
  graph="$(az ad sp show --id 00000003-0000-0000-c000-000000000000 --query id -o tsv)"
fi
if ! [[ "$graph" =~ ^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$ ]]; then
  echo "error: not an object id for Microsoft Graph's service principal: '$graph'" >&2
  exit 2
fi
printf '{"graph-roles-allowlist": {"graphServicePrincipalObjectId": "%s"}, "whole-stack": {"graphServicePrincipalObjectId": "%s"}}\n' \
  "$graph" "$graph" > "$out"
