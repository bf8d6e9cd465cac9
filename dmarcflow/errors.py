"""One exception hierarchy for the whole package.

Input problems carry a machine-readable ``reason`` code so that every rejected
payload can be listed and counted by cause.
"""

from __future__ import annotations


class DmarcflowError(Exception):
    """Base of every error dmarcflow raises on purpose."""


class ConfigError(DmarcflowError):
    """The configuration (file, environment or options) is invalid."""


class MailboxError(DmarcflowError):
    """The IMAP mailbox could not be reached, logged into or changed."""


class StoreError(DmarcflowError):
    """The SQLite store could not be opened, migrated or written."""


class StoreNotFoundError(StoreError):
    """No store at the given path, for a command that must not create one (a usage error: exit 2)."""


class IndexingError(DmarcflowError):
    """The search index could not be set up or written."""


class CredentialError(DmarcflowError):
    """A password or access token could not be obtained (e.g. the token command failed)."""


class DeliveryError(DmarcflowError):
    """A digest or an alert could not be delivered (SMTP, webhook, Apprise); it is retried later."""


class InputError(DmarcflowError):
    """A payload was rejected; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason code {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message


class ExtractError(InputError):
    """Bytes or an email could not be turned into report payloads."""


class ParseError(InputError):
    """A payload is not a valid aggregate report."""


REASONS = {
    "not_a_report": "no DMARC aggregate report in the input",
    "malformed_xml": "the XML is not well-formed",
    "forbidden_xml": "the XML declares a DTD or entities, which are refused",
    "missing_field": "a required element is missing",
    "invalid_value": "an element has a value the schema does not allow",
    "too_large": "a decompression or size limit was exceeded",
    "unsupported_compression": "compressed with a method dmarcflow cannot read",
    "encrypted_archive": "the archive is password-protected",
    "empty": "the input is empty",
    "unreadable": "the input could not be read",
}
