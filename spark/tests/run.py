#!/usr/bin/env python3
"""Runs the Spark job's tests (plain unittest: no pytest needed) and closes with one line
`spark: N passed, N failed, N skipped`. Exit 1 when any failed.

    python3 spark/tests/run.py            # all: test_reduce (Spark SQL) and test_local (end to end)
    python3 spark/tests/run.py test_reduce
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main(names):
    loader = unittest.TestLoader()
    if names:
        suite = unittest.TestSuite(loader.loadTestsFromName(n) for n in names)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"spark: {passed} passed, {failed} failed, {skipped} skipped")
    if result.testsRun == 0:
        print("spark: no test ran", file=sys.stderr)
        return 1
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
