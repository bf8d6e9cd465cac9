"""One exception hierarchy for the whole package, and the codes inputs are judged by.

Input problems carry a machine-readable ``reason`` code so that every rejected
payload can be listed and counted by cause. Quirks that are read anyway carry a
``warning`` code that is recorded on the report, so that nothing is tolerated silently.
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


class TooLargeForWorker(DmarcflowError):
    """A payload's parsed form would be too large to send from a worker process to the writer (``ingest
    --jobs``): not the input's fault; the writer ingests that input itself, streaming, as with one job."""


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
    """A payload is not a valid report of its kind."""


class NotAReport(ParseError):
    """A well-formed document that is not an aggregate report (another root element): noted, not rejected."""

    def __init__(self, message: str) -> None:
        super().__init__("not_a_report", message)


REASONS = {
    "not_a_report": "no DMARC aggregate report in the input",
    "malformed_xml": "the XML is not well-formed",
    "malformed_json": "an SMTP TLS report is not valid JSON (or repeats a key)",
    "forbidden_xml": "the XML declares a DTD or entities, which are refused",
    "missing_field": "a required element is missing",
    "invalid_value": "an element has a value the schema does not allow",
    "too_large": "a decompression or size limit was exceeded",
    "unsupported_compression": "compressed with a method dmarcflow cannot read",
    "encrypted_archive": "the archive is password-protected",
    "empty": "the input is empty",
    "unreadable": "the input could not be read",
    "internal_error": "dmarcflow failed on this input (a bug: the traceback is in the debug log)",
}

# Quirks of real reporters that are read anyway; each is recorded on the report it affected.
WARNINGS = {
    "org_name_from_email": "report_metadata/org_name was empty or missing: the domain of report_metadata/email stands in",
    "org_name_from_sender": "report_metadata/org_name and email were empty or missing: the mail sender's domain stands in",
    "invalid_bytes_replaced": "bytes that are not valid in the document's encoding, inside a text node, became U+FFFD",
    "leading_whitespace": "whitespace or a byte order mark before the XML declaration was skipped",
    "non_utf8_encoding": "the XML is in another encoding than UTF-8 (declared or signalled by a byte order mark)",
    "bare_zlib": "the report was compressed as a bare zlib stream, not gzip",
    "unnamed_zip_member": "a zip member had an empty file name",
    "policy_evaluated_computed": "policy_evaluated lacked dkim or spf: computed from auth_results and alignment",
    "zero_padding": "zero bytes followed the gzip or zlib stream",
    "mail_header_no_space": "mail headers were written Name:value, without a space",
    "undeclared_base64_body": "a mail part was base64 without saying so (its headers were misplaced or missing)",
    "misplaced_mail_headers": "a mail part's headers were found inside its body",
    # SMTP TLS reports (RFC 8460)
    "missing_sending_mta_ip": "a TLS failure detail has no sending-mta-ip (Microsoft sends these)",
    "null_contact_info": "a TLS report's contact-info is null or missing",
    "missing_policy_domain": "a no-policy-found policy has no policy-domain: the TLS-Report-Domain header, else the "
                             "report's other policy domain, stands in",
    "draft_field_name": "a TLS report field used its draft name (mx-host-pattern, additional-info-uri), not RFC 8460's",
    "naive_datetime": "a TLS report date-time has no UTC offset: read as UTC",
    "blank_field": "an optional TLS report field was an empty string: read as absent",
    "empty_organization_name": "a TLS report's organization-name is empty: the TLS-Report-Submitter header stands in",
    # DMARC failure reports (RFC 6591 / RFC 9991)
    "plain_text_notice": "a plain-text failure notice without an ARF part, read from its labelled lines",
    "missing_feedback_type": "the ARF part has no Feedback-Type: read as auth-failure",
    "missing_auth_failure": "the ARF part has no Auth-Failure field",
    "missing_identity_alignment": "the ARF part has no Identity-Alignment field (required since RFC 9991)",
    "arrival_date_from_mail": "Arrival-Date is missing or unreadable: the report mail's Date stands in",
    "reported_domain_from_header": "Reported-Domain is missing: the original message's From domain stands in",
    "unknown_delivery_result": "Delivery-Result has a value outside RFC 6591's list: read as other",
    "headers_truncated": "the original message's headers were cut at 64 KiB",
}


class Warnings:
    """Collects the warning codes met while reading one payload (a set: each code once)."""

    def __init__(self, initial: tuple[str, ...] = ()) -> None:
        self._codes: set[str] = set()
        for code in initial:
            self.add(code)

    def add(self, code: str) -> None:
        if code not in WARNINGS:
            raise ValueError(f"unknown warning code {code!r}")
        self._codes.add(code)

    def codes(self) -> tuple[str, ...]:
        return tuple(sorted(self._codes))
