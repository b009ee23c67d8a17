"""scripts/test, the README's test command, on a machine it cannot run on: one line and exit 2."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import ROOT

# A Python 3.9 as far as the script can tell: its version, and code run with sys.version_info of 3.9.2.
OLD_PYTHON = f"""#!/bin/sh
[ "$1" = --version ] && {{ echo "Python 3.9.2"; exit 0; }}
[ "$1" = -c ] && exec "{sys.executable}" -c "import sys; sys.version_info = (3, 9, 2)
$2"
exit 1
"""


def run_with(tmp_path: Path, python3: str | None) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "rm", "cat"):
        (bin_dir / tool).symlink_to(f"/usr/bin/{tool}" if os.path.exists(f"/usr/bin/{tool}") else f"/bin/{tool}")
    if python3 is not None:
        (bin_dir / "python3").write_text(python3)
        (bin_dir / "python3").chmod(0o755)
    return subprocess.run(["/bin/bash", str(ROOT / "scripts" / "test")], env={"PATH": str(bin_dir)},
                          capture_output=True, text=True, timeout=30, check=False)


def test_an_older_python_is_refused_with_one_line(tmp_path):
    result = run_with(tmp_path, OLD_PYTHON)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "test: Python 3.11 or newer is needed (python3 is Python 3.9.2)\n"


def test_no_python_is_refused_with_one_line(tmp_path):
    result = run_with(tmp_path, None)
    assert (result.returncode, result.stderr) == (2, "test: python3 (3.11 or newer) is needed\n")
