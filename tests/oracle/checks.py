"""Counting checks for the oracle scripts: each check passes or records why it failed, and the
script ends with one summary line and a non-zero exit when anything failed."""
import sys


class Checks:
    def __init__(self):
        self.passed = 0
        self.failures = []

    def __call__(self, name, condition, detail=""):
        if condition:
            self.passed += 1
        else:
            self.failures.append(f"{name}: {detail}")
            print("FAIL -", name, detail, flush=True)

    def finish(self, what):
        print(f"{what}: {self.passed} checks passed, {len(self.failures)} failed")
        print(f"{self.passed} passed, {len(self.failures)} failed")
        sys.exit(1 if self.failures else 0)
