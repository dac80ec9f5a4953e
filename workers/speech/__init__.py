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
chunks.py     speech detection: no speech -> a clear answer; speech packed into chunks of <= 30 s
language.py   lang=auto: the language heard in windows spread over the speech, or a polite refusal
languages.py  Whisper's language codes and their names
backends/     recognition of a batch of chunks: faster-whisper (CTranslate2) or transformers;
              decoding.py: beam/batch options, the loop fallback, words into segments
loops.py      repetition loops and decoded silence in Whisper's text: the checks and the trim
recognise.py  the chunks through a backend a batch at a time, progress and /cancel between batches
translate.py  per-segment Marian translation when MT_MODEL is set
subtitles.py  .txt and .srt
results.py    the transcript as one message (the bot splits it) and the files into the outbox
cache.py      results by (source, task, language, model version)
models.py     the ASR model cache and the registry contract
runtime.py    what a transcribe worker process loads once
progress.py   job.meta + outbox progress, and the cancel flag
"""
