"""Finding the checkpoint to resume from: the newest complete one on disk, else the Hub's last one."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

logger = logging.getLogger(__name__)

CHECKPOINT = re.compile(r"checkpoint-(\d+)")
STATE = "trainer_state.json"  # the Trainer writes it last: a checkpoint without it is incomplete
HUB_CHECKPOINT = "last-checkpoint"


def newest_checkpoint(run: Path) -> Path | None:
    """The complete ``checkpoint-N`` folder with the highest N; a half-written one (killed mid-save) is skipped."""
    candidates = []
    for path in run.glob("checkpoint-*") if run.is_dir() else ():
        match = CHECKPOINT.fullmatch(path.name)
        if match and path.is_dir() and _complete(path):
            candidates.append((int(match.group(1)), path))
    if not candidates:
        return None
    return max(candidates)[1]


def _complete(checkpoint: Path) -> bool:
    try:
        json.loads((checkpoint / STATE).read_text())
    except (OSError, json.JSONDecodeError):
        logger.warning("skipping the incomplete checkpoint %s", checkpoint)
        return False
    return True


def pull_hub_checkpoint(repository: str, run: Path, *, token: str | None) -> Path | None:
    """Download ``last-checkpoint/`` of a Hub model repository into the run; None when there is none."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        snapshot_download(
            repository, allow_patterns=[f"{HUB_CHECKPOINT}/*"], local_dir=run / "hub", token=token,
        )
    except (RepositoryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError) as exc:
        logger.info("no checkpoint on the Hub at %s (%s): starting fresh", repository, type(exc).__name__)
        return None
    pulled = run / "hub" / HUB_CHECKPOINT
    if not (pulled / STATE).exists():
        return None
    step = json.loads((pulled / STATE).read_text())["global_step"]
    target = run / f"checkpoint-{step}"
    pulled.rename(target)
    logger.info("resuming from the Hub's checkpoint at step %d", step)
    return target
