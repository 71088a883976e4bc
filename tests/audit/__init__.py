"""Tests of tools/audit/."""
