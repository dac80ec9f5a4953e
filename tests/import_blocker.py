"""A sitecustomize that makes some packages unimportable in a subprocess, as where they are not installed.

Every import finder is wrapped so that it does not see them: importing one fails and
importlib.util.find_spec answers None (None entries in sys.modules would instead break libraries
that look there, such as scipy). Put the folder on the subprocess's PYTHONPATH.
"""

from __future__ import annotations

from pathlib import Path

SITECUSTOMIZE = """
import sys

HIDDEN = {hidden!r}


class _Hidden:
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        find = getattr(self.finder, "find_spec", None)
        return find(name, path, target) if find else None

    def __getattr__(self, attr):
        return getattr(self.finder, attr)


sys.meta_path[:] = [_Hidden(finder) for finder in sys.meta_path]
"""


def hiding(folder: Path, *packages: str) -> Path:
    """``folder`` with a sitecustomize.py that hides ``packages``: the PYTHONPATH for the subprocess."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE.format(hidden=set(packages)))
    return folder
