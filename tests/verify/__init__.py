"""Tests of tools/verify/."""
