"""The web front end's settings, logins and forms, without a browser."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.errors import SettingsError
from common.settings import WebSettings, load_settings
from models import MODELS
from tests.conftest import REPO
from web.forms import command_text, example_values
from web.users import Users, hash_password, verify


def run_web(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "web", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_a_public_address_without_web_users_stops_the_start_naming_both_settings(process_env):
    """0.0.0.0 with no logins is refused at start (exit 2, one line) unless WEB_PUBLIC says it is meant."""
    done = run_web({**process_env, "WEB_LISTEN": "0.0.0.0:7999"})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "WEB_LISTEN is 0.0.0.0:7999" in done.stderr and "WEB_USERS" in done.stderr and "WEB_PUBLIC" in done.stderr
    WebSettings(WEB_LISTEN="0.0.0.0:7999", WEB_PUBLIC=True).check_exposure()
    WebSettings(WEB_LISTEN="[::1]:7999").check_exposure()
    WebSettings(WEB_LISTEN="localhost:7999").check_exposure()


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("WEB_LISTEN", "7860", "must be host:port"),
        ("WEB_LISTEN", "127.0.0.1:99999", "must be host:port"),
        ("WEB_ROOT_PATH", "mlchat/", "must be a path such as /mlchat"),
        ("WEB_USERS", "/nonexistent/users", "which is not a file"),
        ("WEB_PUBLIC", "perhaps", "WEB_PUBLIC"),
    ],
)
def test_a_malformed_web_setting_is_refused_naming_the_variable(monkeypatch, name, value, said):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value).startswith(name) and said in str(refused.value)


def test_the_url_printed_for_a_wildcard_address_is_loopback():
    assert WebSettings(WEB_LISTEN="0.0.0.0:8080", WEB_PUBLIC=True, WEB_ROOT_PATH="/ml").url == "http://127.0.0.1:8080/"
    assert WebSettings().url == "http://127.0.0.1:7860/"


def test_password_hashes_verify_only_their_password_and_differ_per_salt():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert verify("correct horse", stored)
    assert not verify("correct horsE", stored)
    assert hash_password("correct horse") != stored  # salted
    assert not verify("x", "scrypt$broken")


def test_web_users_lines_are_made_by_the_documented_command_and_checked(tmp_path):
    """`python -m web.users NAME` reads the password from a pipe; the file it makes logs that user in."""
    made = subprocess.run([sys.executable, "-m", "web.users", "alice"], input="s3cret-pass\n", cwd=REPO,
                          capture_output=True, text=True, check=True)  # fmt: skip
    users_file = tmp_path / "users"
    users_file.write_text("# the team\n" + made.stdout)
    users = Users.load(users_file)
    assert users.check("alice", "s3cret-pass")
    assert not users.check("alice", "wrong") and not users.check("mallory", "s3cret-pass")
    short = subprocess.run([sys.executable, "-m", "web.users", "bob"], input="short\n", cwd=REPO,
                           capture_output=True, text=True)  # fmt: skip
    assert short.returncode == 2 and "at least 8" in short.stderr


def test_a_plain_password_in_web_users_stops_the_start_without_echoing_it(process_env, tmp_path):
    users_file = tmp_path / "users"
    users_file.write_text("alice:hunter2-plain\n")
    with pytest.raises(SettingsError) as refused:
        Users.load(users_file)
    assert "line 1" in str(refused.value) and "hunter2" not in str(refused.value)
    done = run_web({**process_env, "WEB_USERS": str(users_file)})
    assert done.returncode == 2 and "WEB_USERS" in done.stderr and "hunter2" not in done.stderr


def test_a_filled_form_becomes_the_command_a_chat_user_would_type():
    titanic = MODELS["titanic"].schema
    values = [1.0, "female", 300.0, None, 0.0, None, "", None]  # the form's fields in the schema's order
    assert command_text(titanic, values) == "/titanic pclass=1 sex=female age=300 parch=0"
    assert command_text(MODELS["iris"].schema, [5.1, 3.5, 1.4, 0.25]) == (
        "/iris sepal_length=5.1 sepal_width=3.5 petal_length=1.4 petal_width=0.25"
    )


def test_each_form_starts_with_its_models_example():
    assert example_values(MODELS["iris"]) == {
        "sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2,
    }  # fmt: skip
    assert example_values(MODELS["titanic"])["embarked"] == "C"


def test_check_reports_redis_the_address_and_the_logins(process_env, tmp_path):
    done = run_web(process_env, "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok    redis:" in done.stdout and "ok    listen: WEB_LISTEN 127.0.0.1:7860" in done.stdout
    exposed = run_web({**process_env, "WEB_LISTEN": "0.0.0.0:7860"}, "--check")
    assert exposed.returncode != 0 and "FAIL  listen: WEB_LISTEN is 0.0.0.0:7860" in exposed.stdout
