"""Tests of tools/plan/."""
