"""The speech job: a video link or an uploaded file -> text, .txt and .srt, one module per step.

job.py        the RQ job: cache, fetch, decode, recognise, translate, post (progress + results)
source.py     the request's audio: a link, a file URL or uploaded bytes, checked on the way
metadata.py   yt-dlp metadata without download: refuse playlists, live streams, long videos
download.py   yt-dlp audio-only download (and plain files of chat attachments)
refusals.py   yt-dlp's errors as one plain sentence for the user, advice for the operator in the log
js_runtime.py the Deno binary and solver scripts yt-dlp needs for YouTube; a test challenge for --check
download_slots.py  at most N YouTube downloads at a time over all workers (a Redis semaphore with leases)
cookies.py    what a YTDLP_COOKIES file holds for YouTube (for --check)
audio.py      ffprobe/ffmpeg: audio track present, 16 kHz mono float samples
chunks.py     speech detection: no speech -> a clear answer; long audio -> chunks of <= 30 s
backends/     recognition of one chunk: faster-whisper (CTranslate2) or transformers
recognise.py  every chunk through a backend, with progress and cancellation between chunks
translate.py  per-segment Marian translation when MT_MODEL is set
subtitles.py  .txt and .srt
results.py    the text (split to the platform's limit) and the files into the outbox
cache.py      results by (source, task, language, model version)
models.py     the ASR model cache and the registry contract
runtime.py    what a transcribe worker process loads once
progress.py   job.meta + outbox progress, and the cancel flag
"""
