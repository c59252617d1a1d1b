"""The README's and the documentation front page's quickstarts run as written."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _fenced_python(text):
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def _rst_python(text):
    blocks = []
    for m in re.finditer(r"^\.\. code-block:: python\n\n((?:[ ]{3}.*\n|\n)+)", text, flags=re.MULTILINE):
        blocks.append("\n".join(line[3:] for line in m.group(1).splitlines()))
    return blocks


@pytest.mark.parametrize("path, extract", [("README.md", _fenced_python),
                                           ("docs/index.rst", _rst_python)])
def test_quickstart_runs(path, extract):
    file = ROOT / path
    if not file.exists():
        pytest.skip(f"{path} is not beside the tests")
    blocks = extract(file.read_text(encoding="utf-8"))
    assert blocks, f"{path}: no Python code block"
    namespace = {}
    for code in blocks:
        exec(compile(code, str(file), "exec"), namespace)
