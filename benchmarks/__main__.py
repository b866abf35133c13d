"""Run the speed benchmarks: ``python -m benchmarks [--quick] [--repeats R]``.

For stable numbers unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this command
only (``make bench`` does: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
.venv/bin/python -m benchmarks``); the machine, the BLAS kernel in use and the load
are printed, and every target of issue 16 closes the run with PASS or MISS.
"""

from __future__ import annotations

import argparse
import os
import sys

from benchmarks import first_run, large, speed

# One line per case: its letter, the function that runs it (quick, repeats, out)
# and returns its numbers, and the function that lists its targets from those
# numbers as (what, value, limit, "above" or "below", judged), or None. ``judged``
# is True where the measurement is the issue's own (wall time, all cores, as its
# table was taken): those lines say PASS or MISS. The other view of the same
# target (one thread and CPU time, which a busy machine inflates less) is printed
# beside it with the ratio and "also", met or not, and decides nothing.
CASES = {
    "a": (speed.iris, speed.iris_targets),
    "b": (speed.many, None),
    "c": (large.large, large.targets),
    "e": (first_run.first, first_run.targets),
}


def mark(
    what: str, value: float, limit: float, better: str, judged: bool = True
) -> str:
    """``PASS`` or ``MISS`` (or ``also``, met or not, for the other view), the
    measured value and the target, on one line."""
    met = value <= limit if better == "below" else value >= limit
    sign = "<=" if better == "below" else ">="
    if judged:
        return (
            f"{'PASS' if met else 'MISS'} {what}: {value:.2f} (target {sign} {limit:g})"
        )
    return f"also {what}: {value:.2f} ({'met' if met else 'not met'}: {sign} {limit:g})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes: checks that everything runs (CI smoke test)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repeats per measurement; the median is reported "
        "(default 3, 1 with --quick)",
    )
    parser.add_argument(
        "--only",
        default=",".join(CASES),
        metavar="a,b,c",
        help="which cases to run (default all: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        choices=["all", "one", "both"],
        default="both",
        help="case (c): every library with all cores (wall time), held to one "
        "thread (CPU time: what a busy machine does not inflate), or both "
        "(default: %(default)s)",
    )
    args = parser.parse_args(argv)
    large.SETTINGS = args.threads
    repeats = args.repeats or (1 if args.quick else 3)
    cases = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"--only takes cases from {sorted(CASES)}, got {unknown}")
    print(speed.machine())
    print(f"median of {repeats} repeat(s) per measurement, after one warm-up run\n")
    lines = []
    for case in cases:
        run, targets = CASES[case]
        result = run(args.quick, repeats, sys.stdout)
        if targets is not None:
            lines += [mark(*t) for t in targets(result)]
        if case == "c":
            lines += large.notes(result)
    print(
        f"\nTargets (issue 16), this run (load average now {os.getloadavg()[0]:.2f}):"
    )
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
