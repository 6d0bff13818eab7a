-- 0010: the client reports sent (issue 16): one row per tenant and period,
-- written once the sender took the message, so that a period's report is
-- never sent twice and a failed send is tried again at the next run.

CREATE TABLE reports_sent (
    tenant     TEXT    NOT NULL,               -- the Entra tenant ID
    period     TEXT    NOT NULL,               -- 2026-11, 2026-Q4 or 2026-10-05..2026-11-04
    sent_at    INTEGER NOT NULL,               -- unix nanoseconds
    recipients TEXT    NOT NULL,               -- the addresses, one per line
    bytes      INTEGER NOT NULL,               -- of the PDF
    sha256     TEXT    NOT NULL,               -- of the PDF, hex
    PRIMARY KEY (tenant, period)
);

CREATE INDEX reports_sent_by_period ON reports_sent (period);
