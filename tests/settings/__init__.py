"""Tests of components/settings/, one file per module: config validated without the Pulumi engine."""
