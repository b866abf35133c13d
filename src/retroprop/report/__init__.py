"""The interactive report: one self-contained HTML page of recorded training steps.

``record_training`` trains a network as ``retroprop train`` does while keeping an
``explain_step`` trace of its first iterations (taken before each real update) and
the learning curves of the whole run; ``render_html`` turns recorded traces into the
page (SVG network, step control, details with the lecture's formulas in MathML,
curves), with all script, style and data inline and nothing fetched from a network.
"""

from retroprop.report.html import render_html, trace_html, write_html
from retroprop.report.record import Recording, RecordSteps, record_training

__all__ = [
    "RecordSteps",
    "Recording",
    "record_training",
    "render_html",
    "trace_html",
    "write_html",
]
