"""Tests of bootstrap/: its program under the mock engine with its example stack, its config checks and its rules."""
