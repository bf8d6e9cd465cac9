"""Passwords and OAuth2 access tokens, read afresh at each login (files get rotated, tokens expire).

Shared by every client that logs in somewhere (the IMAP mailbox, the SMTP sender): each settings type that
has the five credential keys below is a ``CredentialSource``. Secrets are never logged: errors name the
file or the command, never what it held or printed.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Protocol

from dmarcflow.errors import ConfigError, CredentialError

TOKEN_COMMAND_TIMEOUT = 60.0
CHOICES = "password (or password_file), oauth2_token (or oauth2_token_file), oauth2_token_command"


class CredentialSource(Protocol):
    @property
    def password(self) -> str: ...
    @property
    def password_file(self) -> str: ...
    @property
    def oauth2_token(self) -> str: ...
    @property
    def oauth2_token_file(self) -> str: ...
    @property
    def oauth2_token_command(self) -> str: ...


def configured_kinds(source: CredentialSource) -> int:
    """How many of the three ways to log in are set (a secret and its _file key count as one)."""
    kinds = [bool(source.password or source.password_file), bool(source.oauth2_token or source.oauth2_token_file),
             bool(source.oauth2_token_command)]
    return sum(kinds)


def check_one_kind(source: CredentialSource, where: str) -> None:
    count = configured_kinds(source)
    if count == 0:
        raise ConfigError(f"{where}: set one of {CHOICES}")
    if count > 1:
        raise ConfigError(f"{where}: set only one of {CHOICES}")


def uses_oauth2(source: CredentialSource) -> bool:
    return bool(source.oauth2_token or source.oauth2_token_file or source.oauth2_token_command)


def read_secret_file(path: str, what: str) -> str:
    try:
        return Path(path).expanduser().read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from None


def password(source: CredentialSource) -> str:
    return read_secret_file(source.password_file, "password") if source.password_file else source.password


def oauth2_token(source: CredentialSource) -> str:
    """The current access token: from the file, the literal setting, or the command, in that order."""
    if source.oauth2_token_file:
        return read_secret_file(source.oauth2_token_file, "oauth2 token")
    if source.oauth2_token:
        return source.oauth2_token
    return token_from_command(source.oauth2_token_command)


def token_from_command(command: str) -> str:
    # No shell: the command line is split like a shell would, but nothing is expanded or interpreted.
    argv = shlex.split(command)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TOKEN_COMMAND_TIMEOUT,  # noqa: S603 - the
                              check=False)  # owner's configured command, without a shell
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CredentialError(f"oauth2_token_command {argv[0]!r} could not run: {exc}") from None
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        # stderr may say why; stdout is never echoed because it may hold a token.
        detail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise CredentialError(f"oauth2_token_command {argv[0]!r} failed (exit {done.returncode}): {detail[0]}")
    return token


def xoauth2_response(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial client response (before base64), as Google and Microsoft define it."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"
