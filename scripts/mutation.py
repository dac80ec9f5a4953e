"""Mutation testing of one critical module: python scripts/mutation.py <target> (scripts/mutation.sh).

The targets are ``[tool.mutation.targets]`` in pyproject.toml: the files to mutate and the test files
that cover them. The working tree is copied to build/mutation/<target>/ (mutmut writes its mutants
next to the code it mutates, and other people may be editing this tree), the target is added to
the copy's ``[tool.mutmut]``, and mutmut runs each mutant against the target's tests that reach the
mutated function. Prints the score and every survivor's diff; exits 1 below MUTATION_TARGET_SCORE
(default 90 %).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTMUT = Path(sys.executable).parent / "mutmut"


def targets() -> dict[str, dict[str, list[str]]]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutation"]["targets"]


def copy_tree(work: Path) -> None:
    """Tracked and untracked-but-not-ignored files, as they are now in the working tree."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    shutil.rmtree(work, ignore_errors=True)
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, work / name)


def configure(work: Path, mutate: list[str], tests: list[str]) -> None:
    """Add the target's files and tests to the copy's [tool.mutmut] (string arrays are JSON and TOML alike)."""
    pyproject = work / "pyproject.toml"
    lines = pyproject.read_text().splitlines()
    at = lines.index("[tool.mutmut]") + 1
    lines[at:at] = [f"only_mutate = {json.dumps(mutate)}", f"pytest_add_cli_args_test_selection = {json.dumps(tests)}"]
    pyproject.write_text("\n".join(lines) + "\n")


def report(work: Path) -> float:
    subprocess.run([MUTMUT, "export-cicd-stats"], cwd=work, check=True, capture_output=True)
    stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text())
    caught = stats["killed"] + stats["timeout"] + stats["segfault"]
    score = 100 * caught / stats["total"] if stats["total"] else 100.0
    listing = subprocess.run([MUTMUT, "results"], cwd=work, capture_output=True, text=True, check=True).stdout
    # `mutmut results` lists every mutant not killed outright; timeouts count as caught above.
    rows = [line.rsplit(":", 1) for line in listing.splitlines() if ":" in line]
    survivors = [name.strip() for name, status in rows if status.strip() in {"survived", "no tests"}]
    for name in survivors:
        shown = subprocess.run([MUTMUT, "show", name], cwd=work, capture_output=True, text=True).stdout
        print(f"\n--- survivor {name}")
        changed = [line for line in shown.splitlines() if line[:1] in "-+" and line[:3] not in {"---", "+++"}]
        print("\n".join(changed))
    print(f"\n{caught} of {stats['total']} mutants killed ({score:.1f} %); {json.dumps(stats)}")
    return score


def main(argv: list[str]) -> int:
    known = targets()
    if len(argv) != 1 or argv[0] not in known:
        print(f"usage: scripts/mutation.sh <target>; targets: {', '.join(known)}", file=sys.stderr)
        return 2
    name = argv[0]
    work = REPO / "build" / "mutation" / name
    copy_tree(work)
    configure(work, known[name]["mutate"], known[name]["tests"])
    # The tests find the Titanic CSV beside the repository; the copy is elsewhere.
    env = {**os.environ, "TITANIC_CSV": os.environ.get("TITANIC_CSV", str(REPO.parent / "shared/data/titanic.csv"))}
    jobs = os.environ.get("MUTATION_JOBS", str(os.cpu_count() or 2))
    done = subprocess.run([MUTMUT, "run", "--max-children", jobs], cwd=work, env=env)
    if done.returncode != 0:
        return done.returncode
    target = float(os.environ.get("MUTATION_TARGET_SCORE", "90"))
    return 0 if report(work) >= target else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
