"""Versioned schema. Each migration runs once, in order, in one transaction.

``PRAGMA user_version`` holds the number of migrations applied. Append new
migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: reports, records, rollups, IP facts, rejected inputs
    """
    CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        org_name TEXT NOT NULL,
        report_id TEXT NOT NULL,
        domain TEXT NOT NULL,
        begin_ts INTEGER NOT NULL,
        end_ts INTEGER NOT NULL,
        email TEXT, extra_contact_info TEXT, generator TEXT, errors TEXT NOT NULL DEFAULT '[]',
        schema TEXT NOT NULL, version TEXT, namespace TEXT,
        adkim TEXT, aspf TEXT, p TEXT, sp TEXT, np TEXT, pct INTEGER, fo TEXT, testing TEXT, discovery_method TEXT,
        defaults_applied TEXT NOT NULL DEFAULT '[]',
        records_hash TEXT NOT NULL,
        record_count INTEGER NOT NULL DEFAULT 0,
        message_count INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK (status IN ('active', 'conflict')),
        conflict_of INTEGER REFERENCES reports(id),
        source TEXT,
        ingested_at TEXT NOT NULL,
        raw_xml BLOB
    );
    CREATE UNIQUE INDEX reports_identity ON reports(org_name, report_id, domain, begin_ts, end_ts, records_hash);
    CREATE INDEX reports_domain_time ON reports(domain, begin_ts);

    CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        report INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        source_ip TEXT NOT NULL,
        count INTEGER NOT NULL,
        disposition TEXT NOT NULL,
        dkim_eval TEXT NOT NULL,
        spf_eval TEXT NOT NULL,
        header_from TEXT NOT NULL,
        envelope_from TEXT, envelope_to TEXT,
        reasons TEXT NOT NULL,
        dkim TEXT NOT NULL,
        spf TEXT NOT NULL,
        dmarc_pass INTEGER NOT NULL,
        dkim_aligned INTEGER NOT NULL,
        spf_aligned INTEGER NOT NULL,
        dkim_domain TEXT, spf_domain TEXT,
        class TEXT NOT NULL
    );
    CREATE INDEX records_report ON records(report, position);

    -- One row per (domain, UTC day, source and verdict); kept up to date at ingest so that
    -- summaries never scan records. Only active reports feed it. Text dims use '' for none
    -- because NULLs would defeat the primary key.
    CREATE TABLE daily_sources (
        domain TEXT NOT NULL,
        day INTEGER NOT NULL,
        source_ip TEXT NOT NULL,
        header_from TEXT NOT NULL,
        class TEXT NOT NULL,
        disposition TEXT NOT NULL,
        dmarc_pass INTEGER NOT NULL,
        dkim_eval TEXT NOT NULL,
        spf_eval TEXT NOT NULL,
        dkim_aligned INTEGER NOT NULL,
        spf_aligned INTEGER NOT NULL,
        dkim_domain TEXT NOT NULL,
        spf_domain TEXT NOT NULL,
        dkim_result TEXT NOT NULL,
        spf_result TEXT NOT NULL,
        reasons TEXT NOT NULL,
        messages INTEGER NOT NULL,
        records INTEGER NOT NULL,
        PRIMARY KEY (domain, day, source_ip, header_from, class, disposition, dmarc_pass, dkim_eval, spf_eval,
                     dkim_aligned, spf_aligned, dkim_domain, spf_domain, dkim_result, spf_result, reasons)
    ) WITHOUT ROWID;

    CREATE TABLE ip_info (
        ip TEXT PRIMARY KEY,
        reverse_dns TEXT, base_domain TEXT, country TEXT, asn INTEGER, as_name TEXT, as_domain TEXT,
        sender TEXT NOT NULL, sender_type TEXT,
        rdns_checked INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE raw_inputs (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        data BLOB NOT NULL
    );

    CREATE TABLE rejected (
        id INTEGER PRIMARY KEY,
        input TEXT NOT NULL,
        payload TEXT NOT NULL,
        reason TEXT NOT NULL,
        message TEXT NOT NULL,
        raw_sha256 TEXT REFERENCES raw_inputs(sha256),
        rejected_at TEXT NOT NULL
    );
    CREATE INDEX rejected_time ON rejected(rejected_at);
    """,
    # 2: the search-index outbox. Records are indexed in id order; a target's checkpoint is the
    # highest record id whose whole chunk the cluster acknowledged. Documents the cluster
    # refused one by one are parked in index_failures and retried on every pass.
    """
    CREATE TABLE index_checkpoint (
        target TEXT PRIMARY KEY,
        last_record_id INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE index_failures (
        target TEXT NOT NULL,
        record_id INTEGER NOT NULL,
        status INTEGER NOT NULL,
        error TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 1,
        failed_at TEXT NOT NULL,
        PRIMARY KEY (target, record_id)
    ) WITHOUT ROWID;
    """,
    # 3: summaries group the rollup by source and verdict over many days. This covering index
    # holds those columns in grouping order, so a long window is read in order with no sort
    # (the primary key, day first, stays the better path for short windows).
    """
    CREATE INDEX daily_sources_by_source ON daily_sources(
        domain, source_ip, class, header_from, dmarc_pass, dkim_aligned, spf_aligned,
        dkim_domain, spf_domain, dkim_result, spf_result, reasons, day, disposition, messages
    );
    """,
    # 4: source IPs still waiting for their facts. A report's new IPs are marked in the report's own
    # transaction and unmarked in the one that saves their facts, so a crash between the two leaves
    # them marked and the next run fills them in. The backfill marks what earlier crashes left.
    """
    CREATE TABLE ip_pending (
        ip TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO ip_pending (ip)
        SELECT DISTINCT source_ip FROM records WHERE source_ip NOT IN (SELECT ip FROM ip_info);
    """,
    # 5: a rejected input is kept once per (input, payload, reason, bytes), with how often and when it
    # was last seen. sha256 and size describe the bytes even when they are not kept (raw_sha256 NULL):
    # too large, or never downloaded. Existing repeats are merged into their first row.
    """
    ALTER TABLE rejected ADD COLUMN sha256 TEXT;
    ALTER TABLE rejected ADD COLUMN size INTEGER;
    ALTER TABLE rejected ADD COLUMN seen_count INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE rejected ADD COLUMN last_seen_at TEXT;
    UPDATE rejected SET sha256 = raw_sha256, last_seen_at = rejected_at,
        size = (SELECT size FROM raw_inputs WHERE raw_inputs.sha256 = rejected.raw_sha256);
    UPDATE rejected SET seen_count = g.n, last_seen_at = g.last
        FROM (SELECT min(id) AS first, count(*) AS n, max(rejected_at) AS last FROM rejected
              GROUP BY input, payload, reason, coalesce(sha256, '')) AS g
        WHERE rejected.id = g.first;
    DELETE FROM rejected WHERE id NOT IN (
        SELECT min(id) FROM rejected GROUP BY input, payload, reason, coalesce(sha256, ''));
    CREATE UNIQUE INDEX rejected_key ON rejected(input, payload, reason, coalesce(sha256, ''));
    CREATE INDEX rejected_sha256 ON rejected(sha256);
    """,
    # 6: alerts and schedules. An alert is one row per episode: raised when a rule first finds its
    # condition (key), open (cleared_at NULL) while the rule keeps finding it, cleared when it stops.
    # At most one open episode per key, so a condition is raised once, and again only after it cleared.
    # Each raised alert gets one delivery row per channel configured then; a row stays pending until
    # the channel accepted it. schedule_runs holds the last slot each schedule served (the digest).
    """
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        rule TEXT NOT NULL,
        domain TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        fix TEXT,
        details TEXT NOT NULL DEFAULT '{}',
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        cleared_at TEXT
    );
    CREATE UNIQUE INDEX alerts_open_key ON alerts(key) WHERE cleared_at IS NULL;
    CREATE TABLE alert_deliveries (
        alert INTEGER NOT NULL REFERENCES alerts(id),
        channel TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_ts INTEGER NOT NULL DEFAULT 0,
        delivered_at TEXT,
        PRIMARY KEY (alert, channel)
    ) WITHOUT ROWID;
    CREATE INDEX alert_deliveries_pending ON alert_deliveries(status, next_attempt_ts);
    CREATE TABLE schedule_runs (
        name TEXT PRIMARY KEY,
        last_slot_ts INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 7: which reports saw which source IP, per policy domain, so that a source's page names its
    # reporters without scanning records (records have no index by IP, and one would cost every
    # insert). Written at ingest from the report's just-stored records; backfilled here.
    """
    CREATE TABLE report_sources (
        domain TEXT NOT NULL,
        source_ip TEXT NOT NULL,
        report INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        messages INTEGER NOT NULL,
        records INTEGER NOT NULL,
        PRIMARY KEY (domain, source_ip, report)
    ) WITHOUT ROWID;
    INSERT INTO report_sources (domain, source_ip, report, messages, records)
        SELECT reports.domain, records.source_ip, records.report, SUM(records.count), COUNT(*)
        FROM records JOIN reports ON reports.id = records.report
        GROUP BY records.report, records.source_ip;
    """,
    # 8: the latest `dmarcflow check` of each domain (its findings as JSON), so that `summary` can
    # show a domain's DNS errors without asking the DNS again.
    """
    CREATE TABLE dns_checks (
        domain TEXT PRIMARY KEY,
        checked_at INTEGER NOT NULL,
        result TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 9: the quirks read while a report was read (warning codes), so that nothing tolerated is silent. A table,
    # not a column of reports: a column after raw_xml would make SQLite build the zeroblob of the raw copy in
    # memory (it stays lazy only as the row's last column), and memory would grow with the report's size.
    """
    CREATE TABLE report_warnings (
        report INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        code TEXT NOT NULL,
        PRIMARY KEY (report, code)
    ) WITHOUT ROWID;
    """,
    # 10: SMTP TLS reports (RFC 8460): a report, its policies (with their session counts) and each
    # policy's failure details. Identity is (org_name, report_id); a second version with other
    # content is kept as a conflict, like aggregate reports. The raw JSON is kept for reprocess.
    """
    CREATE TABLE tls_reports (
        id INTEGER PRIMARY KEY,
        org_name TEXT NOT NULL,
        report_id TEXT NOT NULL,
        begin_ts INTEGER NOT NULL,
        end_ts INTEGER NOT NULL,
        contact_info TEXT,
        report_domain TEXT,
        submitter TEXT,
        successful INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        warnings TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL CHECK (status IN ('active', 'conflict')),
        conflict_of INTEGER REFERENCES tls_reports(id),
        source TEXT,
        ingested_at TEXT NOT NULL,
        raw_json BLOB
    );
    CREATE UNIQUE INDEX tls_reports_identity ON tls_reports(org_name, report_id, content_hash);
    CREATE INDEX tls_reports_time ON tls_reports(begin_ts);

    CREATE TABLE tls_policies (
        id INTEGER PRIMARY KEY,
        report INTEGER NOT NULL REFERENCES tls_reports(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        policy_type TEXT NOT NULL CHECK (policy_type IN ('sts', 'tlsa', 'no-policy-found')),
        policy_domain TEXT NOT NULL,
        policy_strings TEXT NOT NULL DEFAULT '[]',
        mx_hosts TEXT NOT NULL DEFAULT '[]',
        successful INTEGER NOT NULL,
        failed INTEGER NOT NULL
    );
    CREATE INDEX tls_policies_report ON tls_policies(report, position);
    CREATE INDEX tls_policies_domain ON tls_policies(policy_domain, report);

    CREATE TABLE tls_failures (
        id INTEGER PRIMARY KEY,
        policy INTEGER NOT NULL REFERENCES tls_policies(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        result_type TEXT NOT NULL,
        sending_mta_ip TEXT,
        receiving_mx_hostname TEXT,
        receiving_mx_helo TEXT,
        receiving_ip TEXT,
        failed_sessions INTEGER NOT NULL,
        failure_reason_code TEXT,
        additional_information TEXT
    );
    CREATE INDEX tls_failures_policy ON tls_failures(policy, position);
    """,
    # 11: DMARC failure reports (RFC 6591 / RFC 9991): metadata and the original message's headers,
    # never its body. ``sample`` (the whole report mail, zlib) is filled only with
    # [failure_reports] keep_samples = true. ``identity`` is the dedupe key (kinds.failure.identity).
    """
    CREATE TABLE failure_reports (
        id INTEGER PRIMARY KEY,
        identity TEXT NOT NULL UNIQUE,
        reporter TEXT NOT NULL,
        arrival_ts INTEGER NOT NULL,
        source_ip TEXT NOT NULL,
        reported_domain TEXT NOT NULL,
        feedback_type TEXT NOT NULL,
        auth_failure TEXT NOT NULL DEFAULT '[]',
        identity_alignment TEXT,
        delivery_result TEXT,
        authentication_results TEXT,
        auth_results TEXT NOT NULL DEFAULT '[]',
        dkim_domain TEXT, dkim_selector TEXT, dkim_identity TEXT, spf_domain TEXT,
        original_envelope_id TEXT, original_mail_from TEXT, original_rcpt_to TEXT,
        header_from TEXT, header_to TEXT, subject TEXT, message_id TEXT,
        user_agent TEXT, reporting_mta TEXT, submitter TEXT, mail_date_ts INTEGER,
        incidents INTEGER,
        original_headers TEXT NOT NULL,
        feedback_fields TEXT NOT NULL,
        body_omitted INTEGER NOT NULL,
        warnings TEXT NOT NULL DEFAULT '[]',
        source TEXT,
        ingested_at TEXT NOT NULL,
        sample BLOB
    );
    CREATE INDEX failure_reports_domain_time ON failure_reports(reported_domain, arrival_ts);
    CREATE INDEX failure_reports_time ON failure_reports(arrival_ts);
    """,
    # 12: the check before the latest of each domain, so that the `dns_changed` alert can say what changed
    # between the two latest checks. Saving a check moves the row it replaces in dns_checks here.
    """
    CREATE TABLE dns_checks_previous (
        domain TEXT PRIMARY KEY,
        checked_at INTEGER NOT NULL,
        result TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 13: the summary's whole-history rollup: daily_sources summed over days, dispositions and DMARC evaluations,
    # one row per (domain, source and verdict), in the order the summary groups by. A summary whose window
    # holds every day of the domain reads these rows as they are (tens of thousands for millions of records)
    # instead of grouping the daily rows. Triggers keep it equal to daily_sources in the same transaction,
    # whichever writer changes that (ingest, reprocess); daily_rows counts the daily rows behind a row, which
    # is dropped with the last of them. Conflicts never reach daily_sources, so never reach it either.
    """
    CREATE TABLE domain_sources (
        domain TEXT NOT NULL,
        source_ip TEXT NOT NULL,
        class TEXT NOT NULL,
        header_from TEXT NOT NULL,
        dmarc_pass INTEGER NOT NULL,
        dkim_aligned INTEGER NOT NULL,
        spf_aligned INTEGER NOT NULL,
        dkim_domain TEXT NOT NULL,
        spf_domain TEXT NOT NULL,
        dkim_result TEXT NOT NULL,
        spf_result TEXT NOT NULL,
        reasons TEXT NOT NULL,
        messages INTEGER NOT NULL,
        quarantined INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        daily_rows INTEGER NOT NULL,
        PRIMARY KEY (domain, source_ip, class, header_from, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain,
                     spf_domain, dkim_result, spf_result, reasons)
    ) WITHOUT ROWID;
    INSERT INTO domain_sources
        SELECT domain, source_ip, class, header_from, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain,
               dkim_result, spf_result, reasons, SUM(messages),
               SUM(CASE disposition WHEN 'quarantine' THEN messages ELSE 0 END),
               SUM(CASE disposition WHEN 'reject' THEN messages ELSE 0 END), COUNT(*)
        FROM daily_sources INDEXED BY daily_sources_by_source
        GROUP BY domain, source_ip, class, header_from, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain,
                 dkim_result, spf_result, reasons;
    CREATE TRIGGER daily_sources_added AFTER INSERT ON daily_sources BEGIN
        INSERT INTO domain_sources VALUES (
            NEW.domain, NEW.source_ip, NEW.class, NEW.header_from, NEW.dmarc_pass, NEW.dkim_aligned, NEW.spf_aligned,
            NEW.dkim_domain, NEW.spf_domain, NEW.dkim_result, NEW.spf_result, NEW.reasons, NEW.messages,
            CASE NEW.disposition WHEN 'quarantine' THEN NEW.messages ELSE 0 END,
            CASE NEW.disposition WHEN 'reject' THEN NEW.messages ELSE 0 END, 1)
        ON CONFLICT DO UPDATE SET messages = messages + excluded.messages,
            quarantined = quarantined + excluded.quarantined, rejected = rejected + excluded.rejected,
            daily_rows = daily_rows + 1;
    END;
    CREATE TRIGGER daily_sources_summed AFTER UPDATE OF messages ON daily_sources BEGIN
        UPDATE domain_sources SET messages = messages + NEW.messages - OLD.messages,
            quarantined = quarantined + CASE NEW.disposition WHEN 'quarantine' THEN NEW.messages - OLD.messages ELSE 0 END,
            rejected = rejected + CASE NEW.disposition WHEN 'reject' THEN NEW.messages - OLD.messages ELSE 0 END
        WHERE domain = NEW.domain AND source_ip = NEW.source_ip AND class = NEW.class
            AND header_from = NEW.header_from AND dmarc_pass = NEW.dmarc_pass AND dkim_aligned = NEW.dkim_aligned
            AND spf_aligned = NEW.spf_aligned AND dkim_domain = NEW.dkim_domain AND spf_domain = NEW.spf_domain
            AND dkim_result = NEW.dkim_result AND spf_result = NEW.spf_result AND reasons = NEW.reasons;
    END;
    CREATE TRIGGER daily_sources_dropped AFTER DELETE ON daily_sources BEGIN
        UPDATE domain_sources SET messages = messages - OLD.messages,
            quarantined = quarantined - CASE OLD.disposition WHEN 'quarantine' THEN OLD.messages ELSE 0 END,
            rejected = rejected - CASE OLD.disposition WHEN 'reject' THEN OLD.messages ELSE 0 END,
            daily_rows = daily_rows - 1
        WHERE domain = OLD.domain AND source_ip = OLD.source_ip AND class = OLD.class
            AND header_from = OLD.header_from AND dmarc_pass = OLD.dmarc_pass AND dkim_aligned = OLD.dkim_aligned
            AND spf_aligned = OLD.spf_aligned AND dkim_domain = OLD.dkim_domain AND spf_domain = OLD.spf_domain
            AND dkim_result = OLD.dkim_result AND spf_result = OLD.spf_result AND reasons = OLD.reasons;
        DELETE FROM domain_sources
        WHERE domain = OLD.domain AND source_ip = OLD.source_ip AND class = OLD.class
            AND header_from = OLD.header_from AND dmarc_pass = OLD.dmarc_pass AND dkim_aligned = OLD.dkim_aligned
            AND spf_aligned = OLD.spf_aligned AND dkim_domain = OLD.dkim_domain AND spf_domain = OLD.spf_domain
            AND dkim_result = OLD.dkim_result AND spf_result = OLD.spf_result AND reasons = OLD.reasons
            AND daily_rows <= 0;
    END;
    """,
    # 14: a record's verdict (everything but its source IP and count: disposition, evaluations, identifiers,
    # auth results and reasons as JSON, alignment, class) is stored once in ``verdicts`` and referenced by
    # id: a few hundred distinct verdicts per 100,000 records, which took 60% of a records row as text.
    # ``records`` stays as a view with the old columns for readers; writers use ``record_rows``. Existing
    # records are converted set-based: one scan to collect the distinct verdicts, one to copy the rows.
    # The old table's pages go to the free list (reused by later writes; VACUUM returns them to the disk).
    """
    CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY,
        disposition TEXT NOT NULL,
        dkim_eval TEXT NOT NULL,
        spf_eval TEXT NOT NULL,
        header_from TEXT NOT NULL,
        envelope_from TEXT, envelope_to TEXT,
        reasons TEXT NOT NULL,
        dkim TEXT NOT NULL,
        spf TEXT NOT NULL,
        dmarc_pass INTEGER NOT NULL,
        dkim_aligned INTEGER NOT NULL,
        spf_aligned INTEGER NOT NULL,
        dkim_domain TEXT, spf_domain TEXT,
        class TEXT NOT NULL
    );
    CREATE INDEX verdicts_key ON verdicts(disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to,
        reasons, dkim, spf, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, class);
    INSERT INTO verdicts (disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, dkim, spf,
                          dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, class)
        SELECT DISTINCT disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, dkim, spf,
                        dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, class
        FROM records;
    CREATE TABLE record_rows (
        id INTEGER PRIMARY KEY,
        report INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        source_ip TEXT NOT NULL,
        count INTEGER NOT NULL,
        verdict INTEGER NOT NULL REFERENCES verdicts(id)
    );
    INSERT INTO record_rows (id, report, position, source_ip, count, verdict)
        SELECT r.id, r.report, r.position, r.source_ip, r.count,
               (SELECT v.id FROM verdicts v WHERE v.disposition IS r.disposition AND v.dkim_eval IS r.dkim_eval
                    AND v.spf_eval IS r.spf_eval AND v.header_from IS r.header_from
                    AND v.envelope_from IS r.envelope_from AND v.envelope_to IS r.envelope_to
                    AND v.reasons IS r.reasons AND v.dkim IS r.dkim AND v.spf IS r.spf AND v.dmarc_pass IS r.dmarc_pass
                    AND v.dkim_aligned IS r.dkim_aligned AND v.spf_aligned IS r.spf_aligned
                    AND v.dkim_domain IS r.dkim_domain AND v.spf_domain IS r.spf_domain AND v.class IS r.class)
        FROM records r ORDER BY r.id;
    DROP TABLE records;
    CREATE INDEX record_rows_report ON record_rows(report, position);
    CREATE VIEW records AS
        SELECT r.id AS id, r.report AS report, r.position AS position, r.source_ip AS source_ip, r.count AS count,
               v.disposition AS disposition, v.dkim_eval AS dkim_eval, v.spf_eval AS spf_eval,
               v.header_from AS header_from, v.envelope_from AS envelope_from, v.envelope_to AS envelope_to,
               v.reasons AS reasons, v.dkim AS dkim, v.spf AS spf, v.dmarc_pass AS dmarc_pass,
               v.dkim_aligned AS dkim_aligned, v.spf_aligned AS spf_aligned, v.dkim_domain AS dkim_domain,
               v.spf_domain AS spf_domain, v.class AS class
        FROM record_rows r JOIN verdicts v ON v.id = r.verdict;
    """,
    # 15: the daily rollup by dictionary ids. A small report adds about one daily row per record, and each row
    # held its domain, source IP and verdict as text twice (the key and the covering index): 239 B per record
    # of the year of small reports. Domains and source IPs are now ids in ``rollup_names``, the rest of the key
    # (everything but domain, day and IP) an id in ``rollup_verdicts``; ``daily_rollup`` keeps the ids, and its
    # index by source no more than the ids, the day and the messages. ``daily_sources`` stays as a view with the
    # old columns for readers. domain_sources keeps its text (the summary reads it in key order, as it is); its
    # triggers move to daily_rollup and look the text up by id.
    """
    CREATE TABLE rollup_names (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    INSERT INTO rollup_names (name) SELECT domain FROM daily_sources UNION SELECT source_ip FROM daily_sources;
    CREATE TABLE rollup_verdicts (
        id INTEGER PRIMARY KEY,
        header_from TEXT NOT NULL,
        class TEXT NOT NULL,
        disposition TEXT NOT NULL,
        dmarc_pass INTEGER NOT NULL,
        dkim_eval TEXT NOT NULL,
        spf_eval TEXT NOT NULL,
        dkim_aligned INTEGER NOT NULL,
        spf_aligned INTEGER NOT NULL,
        dkim_domain TEXT NOT NULL,
        spf_domain TEXT NOT NULL,
        dkim_result TEXT NOT NULL,
        spf_result TEXT NOT NULL,
        reasons TEXT NOT NULL,
        UNIQUE (header_from, class, disposition, dmarc_pass, dkim_eval, spf_eval, dkim_aligned, spf_aligned,
                dkim_domain, spf_domain, dkim_result, spf_result, reasons)
    );
    INSERT INTO rollup_verdicts (header_from, class, disposition, dmarc_pass, dkim_eval, spf_eval, dkim_aligned,
                                 spf_aligned, dkim_domain, spf_domain, dkim_result, spf_result, reasons)
        SELECT DISTINCT header_from, class, disposition, dmarc_pass, dkim_eval, spf_eval, dkim_aligned, spf_aligned,
                        dkim_domain, spf_domain, dkim_result, spf_result, reasons
        FROM daily_sources;
    CREATE TABLE daily_rollup (
        domain INTEGER NOT NULL,
        day INTEGER NOT NULL,
        source INTEGER NOT NULL,
        verdict INTEGER NOT NULL,
        messages INTEGER NOT NULL,
        records INTEGER NOT NULL,
        PRIMARY KEY (domain, day, source, verdict)
    ) WITHOUT ROWID;
    INSERT INTO daily_rollup (domain, day, source, verdict, messages, records)
        SELECT d.id, s.day, i.id, v.id, s.messages, s.records
        FROM daily_sources s
        JOIN rollup_names d ON d.name = s.domain
        JOIN rollup_names i ON i.name = s.source_ip
        JOIN rollup_verdicts v ON v.header_from = s.header_from AND v.class = s.class
            AND v.disposition = s.disposition AND v.dmarc_pass = s.dmarc_pass AND v.dkim_eval = s.dkim_eval
            AND v.spf_eval = s.spf_eval AND v.dkim_aligned = s.dkim_aligned AND v.spf_aligned = s.spf_aligned
            AND v.dkim_domain = s.dkim_domain AND v.spf_domain = s.spf_domain AND v.dkim_result = s.dkim_result
            AND v.spf_result = s.spf_result AND v.reasons = s.reasons
        ORDER BY 1, 2, 3, 4;
    DROP TRIGGER daily_sources_added;
    DROP TRIGGER daily_sources_summed;
    DROP TRIGGER daily_sources_dropped;
    DROP TABLE daily_sources;
    CREATE INDEX daily_rollup_by_source ON daily_rollup(domain, source, verdict, day, messages);
    CREATE VIEW daily_sources AS
        SELECT d.name AS domain, r.day AS day, i.name AS source_ip, v.header_from AS header_from, v.class AS class,
               v.disposition AS disposition, v.dmarc_pass AS dmarc_pass, v.dkim_eval AS dkim_eval,
               v.spf_eval AS spf_eval, v.dkim_aligned AS dkim_aligned, v.spf_aligned AS spf_aligned,
               v.dkim_domain AS dkim_domain, v.spf_domain AS spf_domain, v.dkim_result AS dkim_result,
               v.spf_result AS spf_result, v.reasons AS reasons, r.messages AS messages, r.records AS records
        FROM daily_rollup r
        JOIN rollup_names d ON d.id = r.domain
        JOIN rollup_names i ON i.id = r.source
        JOIN rollup_verdicts v ON v.id = r.verdict;
    CREATE TRIGGER daily_rollup_added AFTER INSERT ON daily_rollup BEGIN
        INSERT INTO domain_sources
            SELECT d.name, i.name, v.class, v.header_from, v.dmarc_pass, v.dkim_aligned, v.spf_aligned,
                   v.dkim_domain, v.spf_domain, v.dkim_result, v.spf_result, v.reasons, NEW.messages,
                   CASE v.disposition WHEN 'quarantine' THEN NEW.messages ELSE 0 END,
                   CASE v.disposition WHEN 'reject' THEN NEW.messages ELSE 0 END, 1
            FROM rollup_names d, rollup_names i, rollup_verdicts v
            WHERE d.id = NEW.domain AND i.id = NEW.source AND v.id = NEW.verdict
        ON CONFLICT DO UPDATE SET messages = messages + excluded.messages,
            quarantined = quarantined + excluded.quarantined, rejected = rejected + excluded.rejected,
            daily_rows = daily_rows + 1;
    END;
    CREATE TRIGGER daily_rollup_summed AFTER UPDATE OF messages ON daily_rollup BEGIN
        UPDATE domain_sources SET messages = messages + NEW.messages - OLD.messages,
            quarantined = quarantined + CASE k.disposition WHEN 'quarantine' THEN NEW.messages - OLD.messages ELSE 0 END,
            rejected = rejected + CASE k.disposition WHEN 'reject' THEN NEW.messages - OLD.messages ELSE 0 END
        FROM (SELECT d.name AS domain, i.name AS source_ip, v.* FROM rollup_names d, rollup_names i, rollup_verdicts v
              WHERE d.id = NEW.domain AND i.id = NEW.source AND v.id = NEW.verdict) AS k
        WHERE domain_sources.domain = k.domain AND domain_sources.source_ip = k.source_ip
            AND domain_sources.class = k.class AND domain_sources.header_from = k.header_from
            AND domain_sources.dmarc_pass = k.dmarc_pass AND domain_sources.dkim_aligned = k.dkim_aligned
            AND domain_sources.spf_aligned = k.spf_aligned AND domain_sources.dkim_domain = k.dkim_domain
            AND domain_sources.spf_domain = k.spf_domain AND domain_sources.dkim_result = k.dkim_result
            AND domain_sources.spf_result = k.spf_result AND domain_sources.reasons = k.reasons;
    END;
    CREATE TRIGGER daily_rollup_dropped AFTER DELETE ON daily_rollup BEGIN
        UPDATE domain_sources SET messages = messages - OLD.messages,
            quarantined = quarantined - CASE k.disposition WHEN 'quarantine' THEN OLD.messages ELSE 0 END,
            rejected = rejected - CASE k.disposition WHEN 'reject' THEN OLD.messages ELSE 0 END,
            daily_rows = daily_rows - 1
        FROM (SELECT d.name AS domain, i.name AS source_ip, v.* FROM rollup_names d, rollup_names i, rollup_verdicts v
              WHERE d.id = OLD.domain AND i.id = OLD.source AND v.id = OLD.verdict) AS k
        WHERE domain_sources.domain = k.domain AND domain_sources.source_ip = k.source_ip
            AND domain_sources.class = k.class AND domain_sources.header_from = k.header_from
            AND domain_sources.dmarc_pass = k.dmarc_pass AND domain_sources.dkim_aligned = k.dkim_aligned
            AND domain_sources.spf_aligned = k.spf_aligned AND domain_sources.dkim_domain = k.dkim_domain
            AND domain_sources.spf_domain = k.spf_domain AND domain_sources.dkim_result = k.dkim_result
            AND domain_sources.spf_result = k.spf_result AND domain_sources.reasons = k.reasons;
        DELETE FROM domain_sources
        WHERE (domain, source_ip, class, header_from, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain,
               dkim_result, spf_result, reasons) IN (
            SELECT d.name, i.name, v.class, v.header_from, v.dmarc_pass, v.dkim_aligned, v.spf_aligned, v.dkim_domain,
                   v.spf_domain, v.dkim_result, v.spf_result, v.reasons
            FROM rollup_names d, rollup_names i, rollup_verdicts v
            WHERE d.id = OLD.domain AND i.id = OLD.source AND v.id = OLD.verdict)
            AND daily_rows <= 0;
    END;
    """,
    # 16: domain_sources summed once per commit instead of once per daily row. A small report adds about one daily
    # row per record, and each fired an upsert into domain_sources (its text key, three lookups by id): a quarter of
    # the writer's time in a backfill. The insert and update triggers now only note the change, by ids, in
    # ``domain_sources_pending``; the store folds what is noted into domain_sources before every commit
    # (``store.domain_sources.fold``), so that a committed store holds the same rows as before. Deletes (reprocess,
    # by hand) still change domain_sources at once: their trigger folds what is noted first, then subtracts.
    """
    CREATE TABLE domain_sources_pending (
        domain INTEGER NOT NULL,
        source INTEGER NOT NULL,
        verdict INTEGER NOT NULL,
        messages INTEGER NOT NULL,
        daily_rows INTEGER NOT NULL
    );
    DROP TRIGGER daily_rollup_added;
    DROP TRIGGER daily_rollup_summed;
    DROP TRIGGER daily_rollup_dropped;
    CREATE TRIGGER daily_rollup_added AFTER INSERT ON daily_rollup BEGIN
        INSERT INTO domain_sources_pending VALUES (NEW.domain, NEW.source, NEW.verdict, NEW.messages, 1);
    END;
    CREATE TRIGGER daily_rollup_summed AFTER UPDATE OF messages ON daily_rollup BEGIN
        INSERT INTO domain_sources_pending VALUES (NEW.domain, NEW.source, NEW.verdict, NEW.messages - OLD.messages, 0);
    END;
    CREATE TRIGGER daily_rollup_dropped AFTER DELETE ON daily_rollup BEGIN
        INSERT INTO domain_sources
            SELECT d.name, i.name, v.class, v.header_from, v.dmarc_pass, v.dkim_aligned, v.spf_aligned,
                   v.dkim_domain, v.spf_domain, v.dkim_result, v.spf_result, v.reasons, p.messages,
                   CASE v.disposition WHEN 'quarantine' THEN p.messages ELSE 0 END,
                   CASE v.disposition WHEN 'reject' THEN p.messages ELSE 0 END, p.daily_rows
            FROM domain_sources_pending p CROSS JOIN rollup_names d ON d.id = p.domain
            CROSS JOIN rollup_names i ON i.id = p.source CROSS JOIN rollup_verdicts v ON v.id = p.verdict
            WHERE true
        ON CONFLICT DO UPDATE SET messages = messages + excluded.messages,
            quarantined = quarantined + excluded.quarantined, rejected = rejected + excluded.rejected,
            daily_rows = daily_rows + excluded.daily_rows;
        DELETE FROM domain_sources_pending;
        UPDATE domain_sources SET messages = messages - OLD.messages,
            quarantined = quarantined - CASE k.disposition WHEN 'quarantine' THEN OLD.messages ELSE 0 END,
            rejected = rejected - CASE k.disposition WHEN 'reject' THEN OLD.messages ELSE 0 END,
            daily_rows = daily_rows - 1
        FROM (SELECT d.name AS domain, i.name AS source_ip, v.* FROM rollup_names d, rollup_names i, rollup_verdicts v
              WHERE d.id = OLD.domain AND i.id = OLD.source AND v.id = OLD.verdict) AS k
        WHERE domain_sources.domain = k.domain AND domain_sources.source_ip = k.source_ip
            AND domain_sources.class = k.class AND domain_sources.header_from = k.header_from
            AND domain_sources.dmarc_pass = k.dmarc_pass AND domain_sources.dkim_aligned = k.dkim_aligned
            AND domain_sources.spf_aligned = k.spf_aligned AND domain_sources.dkim_domain = k.dkim_domain
            AND domain_sources.spf_domain = k.spf_domain AND domain_sources.dkim_result = k.dkim_result
            AND domain_sources.spf_result = k.spf_result AND domain_sources.reasons = k.reasons;
        DELETE FROM domain_sources
        WHERE (domain, source_ip, class, header_from, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain,
               dkim_result, spf_result, reasons) IN (
            SELECT d.name, i.name, v.class, v.header_from, v.dmarc_pass, v.dkim_aligned, v.spf_aligned, v.dkim_domain,
                   v.spf_domain, v.dkim_result, v.spf_result, v.reasons
            FROM rollup_names d, rollup_names i, rollup_verdicts v
            WHERE d.id = OLD.domain AND i.id = OLD.source AND v.id = OLD.verdict)
            AND daily_rows <= 0;
    END;
    """,
]


def version_of(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the newest schema; returns the version.

    The version is read again after the write lock is taken (BEGIN IMMEDIATE): several processes
    opening a new store at once then apply each migration exactly once, one after the other.
    """
    if _checked(version_of(conn)) == len(MIGRATIONS):
        return len(MIGRATIONS)  # the usual case: no write lock needed
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = _checked(version_of(conn))
            if current < len(MIGRATIONS):
                for statement in _statements(MIGRATIONS[current]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if current + 1 >= len(MIGRATIONS):
            return len(MIGRATIONS)


def _checked(version: int) -> int:
    if version > len(MIGRATIONS):
        from dmarcflow.errors import StoreError

        raise StoreError(
            f"the database has schema version {version}, newer than this dmarcflow knows ({len(MIGRATIONS)}): upgrade dmarcflow"
        )
    return version


def _statements(script: str) -> list[str]:
    """The statements of a migration script (no trailing comments). A ';' ends a statement only where SQLite
    says the text before it is complete: a trigger's body holds several."""
    body = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    statements, pending = [], ""
    for piece in body.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip()[:-1].strip())
            pending = ""
    if pending.strip(" \n;"):
        statements.append(pending.strip()[:-1].strip())
    return [s for s in statements if s]
