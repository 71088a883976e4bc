"""The command-line tools: make plan, plan-diff, verify, adopt, audit, check-expiry; and the offline engine."""
