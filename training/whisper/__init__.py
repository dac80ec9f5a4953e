"""Fine-tuning Whisper on Swedish speech: features, training, evaluation and export to the speech workers.

The steps are the lab's two notebooks made into commands (``python -m training.whisper <step>``):
``features`` (CPU: load a dataset, log-mel features and token labels into shards under DATA_DIR),
``train`` (GPU: Seq2SeqTrainer with checkpoints it resumes from), ``evaluate`` (WER, BLEU) and
``export`` (CTranslate2, registered as the ``asr`` model the speech workers serve).
"""

REGISTRY_NAME = "asr"
