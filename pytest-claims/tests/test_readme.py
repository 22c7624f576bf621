"""The README's 20-line example runs as written, and its claim passes."""

import json
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_runs(pytester):
    example = re.search(r"## A claim in 20 lines\n\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert len(example.strip().splitlines()) <= 20
    pytester.makepyfile(test_example=example)
    result = pytester.runpytest_inprocess("test_example.py", "--claims-report=report.json", "--claims-html=r.html")
    result.assert_outcomes(passed=1)
    claims = json.loads((pytester.path / "report.json").read_text())["claims"]
    assert [(c["id"], c["outcome"]) for c in claims] == [("U1", "passed")]
