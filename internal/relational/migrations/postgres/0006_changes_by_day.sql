-- 0006: a tenant's control changes by day, for the change ledger of the
-- fleet (RecentScores): the changes of a tenant's last few days without
-- reading every change it ever had (the key is tenant, control, day).
CREATE INDEX control_changes_by_day ON control_changes (tenant, day);
