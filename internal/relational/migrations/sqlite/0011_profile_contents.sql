-- 0011: a control profile's text once per distinct content (issue 17).
--
-- Every tenant's profile of a control carries the same title, remediation
-- and threats, and a control that comes or goes shifts the ranks of those
-- after it: each tenant kept ~250 whole profiles (about 1.5 KB each), and a
-- rank that moved rewrote the whole row. The text is now kept once per
-- distinct content across tenants (profile_contents, found by its content:
-- no hash a migration could not compute) and a tenant's profile is a narrow
-- row of what differs per tenant (rank, max score, tier, deprecated,
-- removed), updated alone when a rank moves. The rows move as they are.

CREATE TABLE profile_contents (
    id                  INTEGER PRIMARY KEY,
    title               TEXT    NOT NULL,
    category            TEXT    NOT NULL,
    user_impact         TEXT    NOT NULL,
    implementation_cost TEXT    NOT NULL,
    action_type         TEXT    NOT NULL,
    action_url          TEXT    NOT NULL,
    service             TEXT    NOT NULL,
    threats             TEXT    NOT NULL,       -- JSON array of strings
    remediation         TEXT    NOT NULL
);

-- The contents of a title: where a profile's content is looked up.
CREATE INDEX profile_contents_by_title ON profile_contents (substr(title, 1, 200));

INSERT INTO profile_contents (title, category, user_impact, implementation_cost, action_type, action_url,
                              service, threats, remediation)
SELECT title, category, user_impact, implementation_cost, action_type, action_url, service, threats, remediation
FROM profiles
GROUP BY title, category, user_impact, implementation_cost, action_type, action_url, service, threats, remediation
ORDER BY min(id);

-- The current control profile (recommended action) per tenant and control.
CREATE TABLE profiles_0011 (
    tenant     INTEGER NOT NULL REFERENCES tenants (id),
    control    INTEGER NOT NULL REFERENCES controls (id),
    content    INTEGER NOT NULL REFERENCES profile_contents (id),
    rank       INTEGER NOT NULL,
    max_score  REAL    NOT NULL,
    deprecated INTEGER NOT NULL,                -- 0 or 1
    removed    INTEGER NOT NULL DEFAULT 0,      -- 1 when the last full list lacked it
    tier       TEXT    NOT NULL,
    PRIMARY KEY (tenant, control)
) WITHOUT ROWID;

INSERT INTO profiles_0011 (tenant, control, content, rank, max_score, deprecated, removed, tier)
SELECT p.tenant, p.control, c.id, p.rank, p.max_score, p.deprecated, p.removed, p.tier
FROM profiles p
JOIN profile_contents c
  ON c.title = p.title AND c.category = p.category AND c.user_impact = p.user_impact
 AND c.implementation_cost = p.implementation_cost AND c.action_type = p.action_type
 AND c.action_url = p.action_url AND c.service = p.service AND c.threats = p.threats
 AND c.remediation = p.remediation;

DROP TABLE profiles;
ALTER TABLE profiles_0011 RENAME TO profiles;
