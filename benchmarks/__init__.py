"""Side-by-side timings of retroprop, PyTorch and scikit-learn (``python -m benchmarks``).

``speed.py`` holds the three cases of issue 5; ``__main__`` runs them and prints the
table. Benchmarks are not tests: CI only runs ``--quick`` as a smoke test.
"""
