"""Tests of tools/offline/."""
