"""The README's Python examples run, so the first thing a reader tries works."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no python examples"
    for i, code in enumerate(blocks):
        namespace = {}
        exec(compile(code, f"README.md python block {i}", "exec"), namespace)
