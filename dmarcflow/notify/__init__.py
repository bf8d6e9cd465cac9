"""Telling people: SMTP mail, signed webhooks, Apprise, the daemon hooks and their metrics."""
