"""Run the Triton sensing kernel under the interpreter and print its errors as JSON.

    python -m tests._support.triton_interpreted CASES_JSON      (driven by tests/integration/test_kernels.py)
"""

import json
import os
import sys

# Must precede the kernel module's import: triton.jit decides at decoration time whether to interpret.
os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: E402

from tests._support.triton_cases import case  # noqa: E402

if __name__ == "__main__":
    cases = json.loads(sys.argv[1])
    print(json.dumps([case(*c[:3], getattr(torch, c[3]), seed) for seed, c in enumerate(cases)]))
