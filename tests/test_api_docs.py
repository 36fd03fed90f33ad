"""docs/api.md is a walk-through whose code blocks run, in order, as one test: the API a
notebook user reads is the API that works."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_code_block_of_docs_api_runs(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6
    shutil.copytree(ROOT / "assets", tmp_path / "assets")
    monkeypatch.chdir(tmp_path)
    ns: dict[str, object] = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/api.md block {i + 1}", "exec"), ns)  # noqa: S102
    assert (tmp_path / "bent.gabor.json").exists() and (tmp_path / "td" / "fit.tsv").exists()
