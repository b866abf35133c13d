"""Explain one training step: the trace of every number, and its renderers.

``explain_step`` (in ``trace``) records one SGD step of the engine; ``text`` renders
it as rich tables, ``markdown`` as Markdown with LaTeX, ``tabular`` as CSV and JSON,
``xlsx`` as a workbook of live formulas.
"""

from retroprop.explain.trace import (
    SCHEMA,
    LayerTrace,
    ParameterTrace,
    Trace,
    explain_step,
)

__all__ = ["SCHEMA", "LayerTrace", "ParameterTrace", "Trace", "explain_step"]
