"""scikit-learn estimators: ``from retroprop.sklearn import BackpropClassifier``.

Importing this module imports scikit-learn (absolute imports: the ``sklearn`` inside
is the real package, not this module).
"""

from retroprop.interop.sklearn_estimator import (
    SKLEARN_ACTIVATIONS,
    BackpropClassifier,
    BackpropRegressor,
)

__all__ = ["SKLEARN_ACTIVATIONS", "BackpropClassifier", "BackpropRegressor"]
