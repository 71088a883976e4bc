"""Tests of tools/adopt/."""
