"""A failed Azure sign-in, said in one line: azure-identity's detail only with ``--debug``.

azure-identity logs every failed sign-in at WARNING, and DefaultAzureCredential's as the list of
every method it tried (environment, workload identity, managed identity, Azure CLI, ...) with
a troubleshooting link each: about ten lines on stderr before the tool has said anything. The
tools that sign in (``make adopt``, ``make verify``) say what failed and what to do in one line
instead, and pass azure-identity's own account on only when asked for with ``--debug``.
"""

from __future__ import annotations

import logging

from azure.core.exceptions import AzureError, ClientAuthenticationError

SIGN_IN = "sign in as a deployer (`az login`, or the pipeline's OIDC login) and run again"
DEBUG_HINT = "ARGS=--debug shows what each sign-in method answered"
_DEFAULT_CHAIN = "DefaultAzureCredential failed to retrieve a token"


def show_sign_in_detail(debug: bool) -> None:
    """Let azure-identity's log through only with ``debug`` (call once, after parsing the arguments)."""
    logging.getLogger("azure.identity").setLevel(logging.NOTSET if debug else logging.CRITICAL)


def first_line(error: AzureError) -> str:
    """The first line of an azure-core error's message (at most 300 characters), or "no detail"."""
    text = str(error.message or error).strip()
    return text.splitlines()[0][:300] if text else "no detail"


def sign_in_failure(error: ClientAuthenticationError) -> str:
    """One line for a deployer whose sign-in failed: what happened and what to do."""
    if str(error.message or error).strip().startswith(_DEFAULT_CHAIN):
        return f"sign-in failed: no Azure sign-in found here; {SIGN_IN} ({DEBUG_HINT})"
    return f"sign-in failed ({first_line(error)}); {SIGN_IN} ({DEBUG_HINT})"
