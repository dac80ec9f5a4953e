"""common/outbox.py on a real Redis: one stream per front end, at-least-once delivery through a consumer group.

A reader gets its own unacknowledged entries first (a restart), then the stale ones of a dead
consumer, then new ones; acknowledged entries never come back.
"""

from __future__ import annotations

import threading

import redis

from common import outbox
from common.jobs import OutboxMessage, ReplyTo
from common.outbox import MAX_ENTRIES, OutboxReader, post, stream_name
from tests.helpers import wait_for


def say(connection: redis.Redis | redis.client.Pipeline, text: str, name: str = "telegram") -> str:
    return post(connection, OutboxMessage(kind="text", reply=ReplyTo(name, "chat-1", "42"), job_id="j", text=text))


def texts(entries: list[tuple[str, OutboxMessage]]) -> list[str | None]:
    return [message.text for _, message in entries]


def test_a_message_goes_to_the_stream_its_reply_names_and_comes_back_whole(connection):
    entry_id = say(connection, "hej", name="discord")
    assert stream_name("discord") == "outbox:discord" and connection.xlen("outbox:discord") == 1
    assert connection.xlen("outbox:telegram") == 0
    [(read_id, message)] = OutboxReader(connection, "discord", consumer="bot-0").read(block_ms=100)
    assert read_id == entry_id and isinstance(entry_id, str)
    assert message == OutboxMessage(kind="text", reply=ReplyTo("discord", "chat-1", "42"), job_id="j", text="hej")


def test_the_stream_is_capped_near_max_entries(connection):
    """xadd trims approximately: a stream never grows far past MAX_ENTRIES."""
    assert MAX_ENTRIES == 100_000
    pipe = connection.pipeline()
    for _ in range(MAX_ENTRIES + 2_000):
        pipe.xadd("outbox:capped", {"data": "{}"})
    pipe.execute()
    say(connection, "one more", name="capped")
    assert MAX_ENTRIES <= connection.xlen("outbox:capped") < MAX_ENTRIES + 2_000


def test_reads_in_order_and_an_acknowledged_entry_never_returns(connection):
    reader = OutboxReader(connection, "telegram", consumer="bot-0")
    for number in range(3):
        say(connection, f"m{number}")
    entries = reader.read(block_ms=100)
    assert texts(entries) == ["m0", "m1", "m2"]
    for entry_id, _ in entries:
        reader.ack(entry_id)
    assert connection.xpending("outbox:telegram", "bots")["pending"] == 0
    assert OutboxReader(connection, "telegram", consumer="bot-0").read(block_ms=10) == []


def test_read_takes_at_most_count_entries(connection):
    for number in range(5):
        say(connection, f"m{number}")
    reader = OutboxReader(connection, "telegram", consumer="bot-0")
    assert texts(reader.read(block_ms=10, count=2)) == ["m0", "m1"]
    assert texts(reader.read(block_ms=10, count=2)) == ["m2", "m3"]


def test_a_restarted_consumer_gets_its_unacknowledged_entries_first(connection):
    """Read but not acked (the bot died mid-send): the same consumer name reads them again, before new ones."""
    first = OutboxReader(connection, "telegram", consumer="bot-0")
    say(connection, "in flight")
    assert texts(first.read(block_ms=100)) == ["in flight"]
    say(connection, "newer")
    again = OutboxReader(connection, "telegram", consumer="bot-0")
    [(entry_id, message)] = again.read(block_ms=100)
    assert message.text == "in flight"
    again.ack(entry_id)
    assert texts(again.read(block_ms=100)) == ["newer"]


def test_a_dead_consumers_entries_are_claimed_once_stale_and_not_before(connection):
    dead = OutboxReader(connection, "telegram", consumer="dead-0")
    say(connection, "orphan")
    assert texts(dead.read(block_ms=100)) == ["orphan"]
    patient = OutboxReader(connection, "telegram", consumer="live-0")  # the default: 30 s
    assert patient.claim_idle_ms == 30_000
    assert patient.read(block_ms=10) == [], "not stale yet"
    eager = OutboxReader(connection, "telegram", consumer="live-1", claim_idle_ms=50)
    [(entry_id, message)] = wait_for(lambda: eager.read(block_ms=10), timeout=10)  # once idle for 50 ms
    assert message.text == "orphan"
    eager.ack(entry_id)
    assert connection.xpending("outbox:telegram", "bots")["pending"] == 0


def test_a_reader_without_a_name_is_named_after_its_host_and_process(connection):
    import os
    import socket

    assert OutboxReader(connection, "telegram").consumer == f"{socket.gethostname()}-{os.getpid()}"


def test_two_readers_of_one_group_share_the_entries(connection):
    for number in range(4):
        say(connection, f"m{number}")
    one, two = (OutboxReader(connection, "telegram", consumer=f"bot-{n}") for n in range(2))
    first, second = one.read(block_ms=10, count=2), two.read(block_ms=10, count=2)
    assert texts(first) + texts(second) == ["m0", "m1", "m2", "m3"]


def test_a_lost_stream_is_made_again_and_read_on(connection):
    """After a Redis restart without persistence the group is gone: the reader makes it again and reads on."""
    reader = OutboxReader(connection, "lost", consumer="bot")
    connection.delete(outbox.stream_name("lost"))
    assert reader.read(block_ms=10) == []
    assert connection.xinfo_groups("outbox:lost")[0]["name"] == b"bots"
    say(connection, "still here", name="lost")
    assert texts(reader.read(block_ms=100)) == ["still here"]


def test_creating_a_reader_twice_keeps_the_group_and_its_position(connection):
    say(connection, "m0")
    reader = OutboxReader(connection, "telegram", consumer="bot-0")
    [(entry_id, _)] = reader.read(block_ms=10)
    reader.ack(entry_id)
    OutboxReader(connection, "telegram", consumer="bot-1")  # BUSYGROUP: the group stays as it is
    assert OutboxReader(connection, "telegram", consumer="bot-1").read(block_ms=10) == []


def test_read_waits_up_to_block_ms_for_a_new_entry(connection, redis_url):
    """An empty outbox: read blocks until an entry arrives (here posted 0.2 s later), instead of returning empty."""
    reader = OutboxReader(connection, "telegram", consumer="bot-0")
    reader.read(block_ms=10)  # past its own pending entries: the next read waits for new ones
    other = redis.Redis.from_url(redis_url)
    later = threading.Timer(0.2, say, args=(other, "late"))
    later.start()
    try:
        assert texts(reader.read(block_ms=10_000)) == ["late"]
    finally:
        later.join()
        other.close()


def test_read_takes_50_entries_by_default(connection):
    pipe = connection.pipeline()
    for number in range(60):
        say(pipe, f"m{number}")
    pipe.execute()
    assert len(OutboxReader(connection, "telegram", consumer="bot-0").read(block_ms=10)) == 50


def test_pending_and_stale_entries_come_count_at_a_time(connection):
    dead = OutboxReader(connection, "telegram", consumer="dead-0")
    for number in range(5):
        say(connection, f"m{number}")
    assert len(dead.read(block_ms=10)) == 5
    restarted = OutboxReader(connection, "telegram", consumer="dead-0")
    assert texts(restarted.read(block_ms=10, count=2)) == ["m0", "m1"], "its own pending ones, two at a time"
    claimer = OutboxReader(connection, "telegram", consumer="live-0", claim_idle_ms=0)
    assert texts(claimer.read(block_ms=10, count=2)) == ["m0", "m1"], "a dead one's stale ones, two at a time"


def test_a_lost_group_is_logged_with_its_stream(connection, caplog):
    reader = OutboxReader(connection, "lost", consumer="bot")
    connection.delete(outbox.stream_name("lost"))
    with caplog.at_level("WARNING", logger="common.outbox"):
        reader.read(block_ms=10)
    assert caplog.messages == ["outbox outbox:lost lost its consumer group; creating it again"]


def test_entry_ids_are_strings_whichever_way_the_client_decodes(connection, redis_url):
    text_client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        entry_id = say(text_client, "hej")
    finally:
        text_client.close()
    [(read_id, _)] = OutboxReader(connection, "telegram", consumer="bot-0").read(block_ms=10)
    assert entry_id == read_id and entry_id != "None"
