-- 0013: each change row keeps the control's score just before it (prev,
-- NULL: absent), so that the change ledger of the fleet reads every
-- control's score at the start of its window from the control's first row
-- in the window (control_changes_by_day, covering) instead of seeking the
-- row before it for each one (issue 13). Existing rows get theirs from the
-- row before them.
ALTER TABLE control_changes ADD COLUMN prev REAL;
UPDATE control_changes
SET prev = (SELECT b.score FROM control_changes b
            WHERE b.tenant = control_changes.tenant
              AND b.control = control_changes.control
              AND b.day < control_changes.day
            ORDER BY b.day DESC
            LIMIT 1);
DROP INDEX control_changes_by_day;
CREATE INDEX control_changes_by_day ON control_changes (tenant, day, control, score, prev);
