"""Tests of tools/stack/."""
