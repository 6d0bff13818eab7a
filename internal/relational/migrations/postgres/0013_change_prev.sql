-- 0013: each change row keeps the control's score just before it (prev,
-- NULL: absent), so that the change ledger of the fleet reads every
-- control's score at the start of its window from the control's first row
-- in the window (found by control_changes_by_day, narrow here since 0011)
-- instead of seeking the row before it for each one (issue 13). Existing
-- rows get theirs from the row before them; rows with nothing before them
-- are not rewritten.
ALTER TABLE control_changes ADD COLUMN prev DOUBLE PRECISION;
UPDATE control_changes cc
SET prev = w.prev
FROM (SELECT tenant, control, day,
             lag(score) OVER (PARTITION BY tenant, control ORDER BY day) AS prev
      FROM control_changes) w
WHERE w.tenant = cc.tenant AND w.control = cc.control AND w.day = cc.day
  AND w.prev IS NOT NULL;
