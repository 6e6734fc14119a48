"""Overestimation learning with guarantees (issue 14)."""
