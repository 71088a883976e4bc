"""Pulumi policy pack of this project (rules in ``rules.py``)."""
