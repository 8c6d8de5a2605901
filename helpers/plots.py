"""Figures the lessons show. Every function returns its matplotlib Figure."""
from __future__ import annotations


def use_course_style() -> None:
    """One look for every figure of the course."""
    import matplotlib

    matplotlib.rcParams.update({"figure.dpi": 90, "axes.grid": False, "figure.autolayout": True})
