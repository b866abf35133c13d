"""``plain``: any result's numbers as standard JSON data, the one converter all share.

Traces, experiment results, the report's embedded data and the command line's
``--json`` output all pass through it, so they agree on how NumPy values, tuples and
non-finite numbers are written.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


def plain(obj: object) -> object:
    """NumPy arrays and scalars, dataclasses, tuples -> JSON-ready Python values.

    Arrays become (nested) lists, NumPy scalars Python numbers, dict keys strings,
    tuples lists, a dataclass its ``to_dict()`` (or its fields), and non-finite floats
    ``None`` (JSON has no NaN or infinity).
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_dict"):
            return obj.to_dict()
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj
