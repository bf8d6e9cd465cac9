"""Report kinds: what each kind of report is, how it is read, stored, summarised and indexed.

* ``aggregate`` DMARC aggregate reports (RFC 7489 / RFC 9990 XML);
* ``tls``       SMTP TLS reports (RFC 8460 JSON);
* ``failure``   DMARC failure reports (RFC 6591 ARF, updated by RFC 9991).
"""
