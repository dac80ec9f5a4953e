"""Discord's IDENTIFY limit, kept by all bot processes of a token together.

Discord lets a token start ``max_concurrency`` gateway sessions per 5 s (1 for most bots): shard
``i`` identifies in bucket ``i % max_concurrency``, one per bucket per 5 s. discord.py waits 5 s
between the shards of one process and knows nothing of other processes, so shards split over
processes (DISCORD_SHARD_IDS) that start together would identify at once and have sessions refused.
Here each IDENTIFY first takes its bucket's turn in Redis: a key that lives 5 s.
"""

from __future__ import annotations

import asyncio
import logging

import redis

logger = logging.getLogger(__name__)

IDENTIFY_INTERVAL_MS = 5000


async def identify_turn(connection: redis.Redis, namespace: str, shard_id: int, max_concurrency: int) -> None:
    """Return when shard ``shard_id`` may identify; no other process's shard of its bucket did in 5 s."""
    key = f"{namespace}:identify:{shard_id % max(1, max_concurrency)}"
    while not await asyncio.to_thread(connection.set, key, shard_id, nx=True, px=IDENTIFY_INTERVAL_MS):
        wait_ms = await asyncio.to_thread(connection.pttl, key)
        logger.info("shard %s waits %.1f s for its turn to identify", shard_id, max(wait_ms, 0) / 1000)
        await asyncio.sleep(max(int(wait_ms), 20) / 1000)
