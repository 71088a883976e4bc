"""Tests of tools/tenant/."""
