"""python -m common.data_dir: print DATA_DIR as the processes read it (for scripts/start.sh's log folder)."""

from __future__ import annotations

from common.entrypoint import run
from common.settings import load_settings


def main() -> int:
    print(load_settings().storage.DATA_DIR)
    return 0


if __name__ == "__main__":
    run(main, "common.data_dir")
