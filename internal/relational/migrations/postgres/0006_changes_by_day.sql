-- 0006: for the change ledger of the fleet (RecentScores, RecentProfiles):
-- a tenant's control changes by day, covering (with the control and the
-- score), so its last few days are read from the index alone, without
-- every change it ever had (the key is tenant, control, day); and its state
-- updates by time, so the ones of the last few days are found without the
-- others.
CREATE INDEX control_changes_by_day ON control_changes (tenant, day, control, score);
CREATE INDEX control_states_by_time ON control_states (tenant, updated_at);
