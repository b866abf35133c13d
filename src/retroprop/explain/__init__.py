"""Explain one training step: the trace of every number, and its renderers.

``explain_step`` (in ``trace``) records one SGD step of the engine as a ``Trace``;
``data`` holds what a trace is (``TraceData``) and its JSON form; ``text`` renders it
as rich tables, ``markdown`` as Markdown with LaTeX, ``tabular`` as CSV, ``xlsx`` as
a workbook of live formulas (``views`` holds the tables text and Markdown share).
The renderers read ``data`` only; ``trace`` imports them, never the other way.
"""

from retroprop.explain.data import TraceData
from retroprop.explain.trace import (
    SCHEMA,
    LayerTrace,
    ParameterTrace,
    Trace,
    explain_step,
)

__all__ = [
    "SCHEMA",
    "LayerTrace",
    "ParameterTrace",
    "Trace",
    "TraceData",
    "explain_step",
]
