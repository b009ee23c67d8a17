"""Stand-ins for the command-line tools a script calls, which log what they are asked, and a sandbox whose PATH
holds only them and the few basic tools the script uses, so a tool a test removes is really missing."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LOG = 'echo "${0##*/} $*" >> "$CALLS"\n'


@dataclass
class Sandbox:
    env: dict[str, str]
    bin_dir: Path
    home: Path
    script: Path
    read_only: tuple[str, ...]   # calls that only ask: the script may make them before it has checked everything

    def without(self, *tools: str) -> None:
        for tool in tools:
            (self.bin_dir / tool).unlink()

    def run(self, *args: str, script: Path | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(script or self.script), *args], env=self.env, cwd=cwd or self.home,
                              capture_output=True, text=True, timeout=60, check=False)

    def calls(self) -> list[str]:
        path = Path(self.env["CALLS"])
        return path.read_text().splitlines() if path.exists() else []

    def changes(self) -> list[str]:
        """Every call but the read-only ones."""
        return [call for call in self.calls() if not call.startswith(self.read_only)]


def sandbox(tmp_path: Path, script: Path, stubs: dict[str, str], basic_tools: tuple[str, ...],
            read_only: tuple[str, ...]) -> Sandbox:
    bin_dir, tools_dir, home = tmp_path / "bin", tmp_path / "tools", tmp_path / "home"
    for directory in (bin_dir, tools_dir, home):
        directory.mkdir()
    for tool in basic_tools:
        found = shutil.which(tool)
        assert found, f"{tool} is needed to run {script.name}"
        (tools_dir / tool).symlink_to(found)
    for name, text in stubs.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    # A fresh environment: the caller's PULUMI_*, AZURE_* or KUBECONFIG must not steer the script.
    env = {"PATH": f"{bin_dir}:{tools_dir}", "HOME": str(home), "CALLS": str(tmp_path / "calls.log"), "LC_ALL": "C"}
    return Sandbox(env, bin_dir, home, script, read_only)
