"""The bootstrap: a Pulumi project of its own that creates the pipeline's identities and GitHub settings.

Run once (and again after a change) by a Privileged Role Administrator with a GitHub token that
administers the repository: ``make bootstrap STACK=<name>``. It imports from ``components/`` (the
config checker, Graph's lookup and grants), never the other way round; ``tools/`` and the HR
stacks' policy pack know nothing of it.
"""
