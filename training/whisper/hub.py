"""Features through the Hugging Face Hub: the machine that made them uploads, the GPU machine downloads.

The features folder goes up as it is (a private dataset repository holding features.json and the
shard folders), so a download gives exactly the layout `load_shards` reads, and a rerun of the
upload sends only the files the Hub does not have yet. Temporary shards (``.*.tmp``) stay behind.
"""

from __future__ import annotations

import logging
from pathlib import Path

from common.errors import DataError, SettingsError
from training.whisper.features import MANIFEST

logger = logging.getLogger(__name__)


def upload_features(folder: Path, repository: str, *, token: str | None) -> str:
    from huggingface_hub import HfApi

    if token is None:
        raise SettingsError("HF_TOKEN is not set: it is needed to upload features to the Hub")
    api = HfApi(token=token)
    api.create_repo(repository, repo_type="dataset", private=True, exist_ok=True)
    api.upload_folder(
        folder_path=str(folder), repo_id=repository, repo_type="dataset",
        ignore_patterns=["*.tmp*"], commit_message="Whisper features and labels",
    )
    logger.info("uploaded %s to the Hub dataset %s", folder, repository)
    return f"https://huggingface.co/datasets/{repository}"


def ensure_features(folder: Path, repository: str, *, token: str | None) -> Path:
    """The local features folder, downloaded from the Hub dataset first when it holds none."""
    if (folder / MANIFEST).exists():
        return folder
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    logger.info("downloading the features of %s into %s", repository, folder)
    try:
        snapshot_download(repository, repo_type="dataset", local_dir=str(folder), token=token)
    except (RepositoryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError) as exc:
        raise DataError(f"cannot download the features of {repository}: {exc}") from exc
    if not (folder / MANIFEST).exists():
        raise DataError(f"the Hub dataset {repository} holds no {MANIFEST}: it was not written by `features`")
    return folder
