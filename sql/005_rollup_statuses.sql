-- 005_rollup_statuses.sql — delivery-metrics series: one row of status counts per period and sender.
--
-- A series point needs messages by status only, yet delivery_rollup_counts
-- holds a row per status and error code: an hourly series of 30 days read
-- some 15 rows per hour (11,000 rows, each on a page of its own) and summed
-- them, which cost more than the rest of the request together. Here each
-- period and sender is one row, its statuses and their counts side by side,
-- so a series reads one row per point. The window's totals and errors still
-- come from delivery_rollup_counts, by day wherever a whole day is covered.
--
-- Written by the rollup job with the other rollup tables, in the same
-- statements (worker/maint/rollup_job.cpp), and always equal to the sum of
-- the delivery_rollup_counts rows of its period and sender.
CREATE TABLE delivery_rollup_statuses (
  tenant_id bigint NOT NULL REFERENCES tenants,
  period text NOT NULL CHECK (period IN ('hour', 'day')),
  period_start timestamptz NOT NULL,
  sender text NOT NULL,
  statuses text[] NOT NULL,
  messages bigint[] NOT NULL CHECK (cardinality(messages) = cardinality(statuses)),
  -- A query reads one sender's consecutive periods: one range of this key.
  PRIMARY KEY (tenant_id, period, sender, period_start)
);
-- The job replaces a period for every sender at once.
CREATE INDEX delivery_rollup_statuses_period_idx ON delivery_rollup_statuses (tenant_id, period, period_start);

-- What the rollup already holds, so that an installation upgraded with a
-- rolled-up history answers series at once, not after a full re-run.
INSERT INTO delivery_rollup_statuses (tenant_id, period, period_start, sender, statuses, messages)
SELECT tenant_id, period, period_start, sender, array_agg(status ORDER BY status), array_agg(messages ORDER BY status)
  FROM (SELECT tenant_id, period, period_start, sender, status, sum(messages)::bigint AS messages
          FROM delivery_rollup_counts
         GROUP BY tenant_id, period, period_start, sender, status) c
 GROUP BY tenant_id, period, period_start, sender;

-- As in 004, plus the new table: retention forgets a month's series with
-- the rest of its rollup.
CREATE OR REPLACE FUNCTION wagate_metrics_forget(p_before timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_counts bigint;
  v_times bigint;
BEGIN
  DELETE FROM delivery_rollup_counts WHERE period_start < p_before;
  GET DIAGNOSTICS v_counts = ROW_COUNT;
  DELETE FROM delivery_rollup_times WHERE period_start < p_before;
  GET DIAGNOSTICS v_times = ROW_COUNT;
  DELETE FROM delivery_rollup_buckets WHERE period_start < p_before;
  DELETE FROM delivery_rollup_statuses WHERE period_start < p_before;
  DELETE FROM metrics_dirty_hours WHERE hour < p_before;
  RETURN v_counts + v_times;
END $$;
