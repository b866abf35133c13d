"""Run the speed benchmarks: ``python -m benchmarks [--quick] [--repeats R]``.

For stable numbers unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this command
only (``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python -m benchmarks``)
and run on an otherwise idle machine; the BLAS kernel in use is printed.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import first_run
from benchmarks.speed import CASES, machine, run, targets

CASES = {**CASES, **first_run.CASES}


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
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    cases = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"--only takes cases from {sorted(CASES)}, got {unknown}")
    print(machine())
    print(f"median of {repeats} repeat(s) per measurement, after one warm-up run\n")
    results = {}
    for case in cases:
        bench = first_run.run if case in first_run.CASES else run
        results[case] = bench(case, quick=args.quick, repeats=repeats, out=sys.stdout)
    print("\nTargets (issue 16), this run:")
    for line in targets(results) + first_run.targets(results):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
