"""WEB_USERS: a file of ``user:password-hash`` lines, and the command that makes a line.

``python -m web.users alice`` asks for the password (or reads it from a pipe) and prints
``alice:scrypt$...``; append it to the file. Hashes are scrypt (the standard library's), salted per
user, so the file holds no password and a leaked one costs an attacker real work per guess.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import re
import secrets
import sys
from pathlib import Path

from common.errors import SettingsError

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # about 16 MiB and 50 ms a check: slow for guessing, fine for a login
USER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return "$".join([SCHEME, str(N), str(R), str(P), _b64(salt), _b64(digest)])


def verify(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:  # a malformed line: never a match
        return False
    return hmac.compare_digest(got, expected)


class Users:
    """The logins of WEB_USERS; ``check`` is Gradio's ``auth`` callable."""

    def __init__(self, hashes: dict[str, str]) -> None:
        self.hashes = hashes

    @classmethod
    def load(cls, path: Path) -> Users:
        hashes: dict[str, str] = {}
        for number, raw in enumerate(path.read_text().splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            user, _, stored = line.partition(":")
            if not USER.fullmatch(user) or not stored.startswith(SCHEME + "$") or stored.count("$") != 5:
                # Never echo the line: it might be a plain password someone pasted.
                raise SettingsError(
                    f"WEB_USERS ({path}) line {number} is not user:password-hash; "
                    "make lines with python -m web.users NAME"
                )
            hashes[user] = stored
        if not hashes:
            raise SettingsError(f"WEB_USERS ({path}) names no user; add one with python -m web.users NAME")
        return cls(hashes)

    def check(self, user: str, password: str) -> bool:
        stored = self.hashes.get(user)
        if stored is None:
            verify(password, hash_password("", salt=b"0" * 16))  # the same time as for a known user
            return False
        return verify(password, stored)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not USER.fullmatch(argv[0]):
        print("usage: python -m web.users NAME  (letters, digits, _ . @ -); prints a WEB_USERS line", file=sys.stderr)
        return 2
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("web.users: a password of at least 8 characters, please", file=sys.stderr)
        return 2
    print(f"{argv[0]}:{hash_password(password)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
