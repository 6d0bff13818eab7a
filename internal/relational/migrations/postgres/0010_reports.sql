-- 0010: the client reports sent (issue 16; as sqlite/migrations/0010): one
-- row per tenant and period, written once the sender took the message, so
-- that a period's report is never sent twice and a failed send is tried
-- again at the next run.

CREATE TABLE reports_sent (
    tenant     text    NOT NULL,               -- the Entra tenant ID
    period     text    NOT NULL,               -- 2026-11, 2026-Q4 or 2026-10-05..2026-11-04
    sent_at    bigint  NOT NULL,               -- unix nanoseconds
    recipients text    NOT NULL,               -- the addresses, one per line
    bytes      bigint  NOT NULL,               -- of the PDF
    sha256     text    NOT NULL,               -- of the PDF, hex
    PRIMARY KEY (tenant, period)
);

CREATE INDEX reports_sent_by_period ON reports_sent (period);
