"""Interoperability: the scikit-learn estimators, PyTorch import/export, verify.

Nothing here is imported by ``import retroprop``; each module imports its heavy
dependency (scikit-learn, PyTorch) itself. The public entry points are
``retroprop.sklearn`` and ``retroprop.torch``.
"""
