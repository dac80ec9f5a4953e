"""Discord sharding end to end: discord.py's AutoShardedClient in `python -m bot discord`, the emulator's gateway.

The emulator routes a guild's interactions to the connection of shard ``(guild_id >> 22) % count``
only, as Discord does, so a command is answered only if the process running its shard answers it.
"""

from __future__ import annotations

import pytest

from tests.chat_fixtures import DISCORD_TOKEN
from tests.emulators.discord_api import DiscordEmulator, guild_on_shard
from tests.helpers import refused_at_start, wait_for


def answered(api: DiscordEmulator, interaction: int) -> list[str]:
    return [m.content for m in api.messages if m.interaction_id == interaction and m.via == "interaction response"]


def ask_on_each_shard(api: DiscordEmulator, count: int) -> dict[int, int]:
    """/help from a guild on each shard, each in its own channel: shard -> interaction id."""
    return {
        shard: api.slash("help", channel_id=600 + shard, guild_id=guild_on_shard(shard, count))
        for shard in range(count)
    }


def test_two_processes_each_running_one_of_two_shards_answer_the_guilds_of_both(
    discord_api, start_discord_bot, connection
):
    """DISCORD_SHARDS=2 with DISCORD_SHARD_IDS=0 and 1: each identifies as its shard and answers its guilds.

    The second process waits for its turn: Discord starts one session per 5 s for the token.
    """
    start_discord_bot(DISCORD_SHARDS="2", DISCORD_SHARD_IDS="0")
    start_discord_bot(DISCORD_SHARDS="2", DISCORD_SHARD_IDS="1")
    assert sorted(identify["shard"] for identify in discord_api.identified) == [[0, 2], [1, 2]]
    first, second = discord_api.identified_at
    assert second - first >= 4.9
    asked = ask_on_each_shard(discord_api, 2)
    wait_for(lambda: all(answered(discord_api, interaction) for interaction in asked.values()))
    assert all("/titanic" in answered(discord_api, interaction)[0] for interaction in asked.values())
    assert {shard: discord_api.received[interaction] for shard, interaction in asked.items()} == {0: [0], 1: [1]}
    # The processes claimed one interaction each: the shard's own.
    claimers = {connection.get(f"interaction:{interaction}") for interaction in asked.values()}
    assert len(claimers) == 2


def test_auto_runs_as_many_shards_as_discord_recommends_in_one_process(discord_api, start_discord_bot):
    """DISCORD_SHARDS=auto: GET /gateway/bot says 2, the process identifies both and answers guilds on each."""
    discord_api.shards = 2
    start_discord_bot(DISCORD_SHARDS="auto")
    # Each further IDENTIFY waits its turn: Discord starts one session per 5 s.
    wait_for(lambda: len(discord_api.identified) == 2, timeout=30)
    assert sorted(identify["shard"] for identify in discord_api.identified) == [[0, 2], [1, 2]]
    asked = ask_on_each_shard(discord_api, 2)
    wait_for(lambda: all(answered(discord_api, interaction) for interaction in asked.values()))
    assert [len(answered(discord_api, interaction)) for interaction in asked.values()] == [1, 1]


def test_one_shard_by_default_gets_every_guild(discord_api, start_discord_bot):
    """Unset DISCORD_SHARDS: one connection, shard [0, 1], which Discord sends every guild's events."""
    start_discord_bot()
    assert [identify["shard"] for identify in discord_api.identified] == [[0, 1]]
    asked = ask_on_each_shard(discord_api, 2)
    wait_for(lambda: all(answered(discord_api, interaction) for interaction in asked.values()))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DISCORD_SHARDS": "0"}, "DISCORD_SHARDS must be a number of shards"),
        ({"DISCORD_SHARDS": "many"}, "DISCORD_SHARDS must be a number of shards"),
        ({"DISCORD_SHARDS": "2", "DISCORD_SHARD_IDS": "2"}, "DISCORD_SHARD_IDS must be below DISCORD_SHARDS (2)"),
        ({"DISCORD_SHARDS": "2", "DISCORD_SHARD_IDS": "0,x"}, "DISCORD_SHARD_IDS must be shard numbers"),
        ({"DISCORD_SHARDS": "auto", "DISCORD_SHARD_IDS": "0"}, "DISCORD_SHARD_IDS needs DISCORD_SHARDS as a number"),
    ],
)
def test_a_bad_shard_setting_stops_the_bot_at_start_naming_it(process_env, env, expected):
    """Exit code 2 and one line naming the variable, no traceback."""
    assert expected in refused_at_start("discord", {**process_env, "DISCORD_TOKEN": DISCORD_TOKEN, **env})
