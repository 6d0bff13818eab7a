-- 0009 is another branch's migration; this placeholder keeps the versions
-- without a gap on the reports branch and is deleted when that branch's
-- 0009 is merged.
SELECT 1;
