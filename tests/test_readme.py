"""Every `bash` block of the README runs as written, in order, in one temporary folder (the reader's
working copy: `docs/` and `infra/` beside it, the default home `./.agent-learning`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(?:<!-- readme-test: skip \((?P<why>[^)]*)\) -->\n)?```bash\n(?P<code>.*?)```", re.S)


def blocks() -> list[tuple[str | None, str]]:
    return [(m.group("why"), m.group("code")) for m in BLOCK.finditer((ROOT / "README.md").read_text())]


def test_the_readme_has_blocks_to_run_and_says_why_it_skips_the_others():
    found = blocks()
    assert len([code for why, code in found if why is None]) >= 3
    for why, code in found:
        assert why is None or why.strip(), f"a skipped block needs its reason: {code[:80]}"


def test_every_readme_block_runs_as_written(tmp_path):
    for name in ("docs", "infra"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_LEARNING_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    script = "set -euo pipefail\n"
    for why, code in blocks():
        if why is None:
            script += f"echo '--- README block: {code.splitlines()[0][:60]!s}'\n{code}\n"
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"a README block failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    out = done.stdout
    assert '"empathy": 0.57' in out and '"empathy": 0.507' in out  # the worked example, as the comment says
    assert "applied as rules version 1" in out and "MISMATCH" not in out
    assert "agent:aria/v1" in out and "champion" in out
