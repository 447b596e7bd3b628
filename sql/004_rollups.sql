-- 004_rollups.sql — delivery-metrics rollups: hourly and daily counts and exact delivery-time distributions.
--
-- A delivery-metrics answer must equal what a full scan of the outbound
-- messages would say, reflect a callback as soon as it commits, and cost the
-- same whatever the history holds. So the counts are rolled up behind the
-- write path (wagate-maint's rollup job), and a query adds the part the job
-- has not seen yet. "Not seen yet" is decided by transaction visibility, not
-- by clocks: a message row carries the transaction that last changed what
-- the metrics count (metrics_xid), the job remembers the snapshot it rolled
-- up from, and a row whose metrics_xid that snapshot cannot see belongs to an
-- hour that is recomputed from the messages themselves (by the next run, and
-- meanwhile by every query). Timestamps cannot decide this: last_status_at is
-- the time a callback arrived, which precedes its commit (and by hours for a
-- spool replay), and several writers change a status without touching it.
--
-- The hot path gains no row: a column default on insert and a BEFORE UPDATE
-- trigger that fires only when status, error code, delivery time or sender
-- actually change set the column in the row being written anyway.

-- The transaction that inserted the row or last changed its status, error
-- code, delivery time or sender. NULL on rows older than this migration (the
-- job's first run rolls up everything). Set without a table rewrite: the
-- default applies to rows inserted from now on.
ALTER TABLE messages ADD COLUMN metrics_xid xid8;
ALTER TABLE messages ALTER COLUMN metrics_xid SET DEFAULT pg_current_xact_id();

CREATE FUNCTION wagate_metrics_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.metrics_xid := pg_current_xact_id();
  RETURN NEW;
END $$;

-- The WHEN clause is evaluated without entering PL/pgSQL, so an update that
-- changes nothing counted (a duplicate or late callback, a retry schedule)
-- costs nothing here.
CREATE TRIGGER messages_metrics_touch
  BEFORE UPDATE OF status, error_code, delivery_ms, from_addr ON messages
  FOR EACH ROW
  WHEN (NEW.direction = 'outbound' AND (OLD.status IS DISTINCT FROM NEW.status
        OR OLD.error_code IS DISTINCT FROM NEW.error_code
        OR OLD.delivery_ms IS DISTINCT FROM NEW.delivery_ms
        OR OLD.from_addr IS DISTINCT FROM NEW.from_addr))
  EXECUTE FUNCTION wagate_metrics_touch();

-- What changed since a snapshot: a few seconds of traffic, found without
-- reading the history. Per partition, like every index of messages.
CREATE INDEX messages_metrics_xid_idx ON messages (metrics_xid) WHERE direction = 'outbound';

-- A deleted row leaves nothing to find by metrics_xid: its hour is recorded
-- here instead, and the rollup job recomputes it and clears the entry.
-- Deletes are rare (an operator's cleanup), so a row trigger is affordable;
-- one on the partitions too, because a statement trigger of the parent does
-- not fire for a DELETE addressed to a partition. Dropping or detaching a
-- whole partition fires nothing: see wagate_metrics_forget below.
CREATE TABLE metrics_dirty_hours (
  tenant_id bigint NOT NULL REFERENCES tenants,
  hour timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, hour)
);

CREATE FUNCTION wagate_metrics_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO metrics_dirty_hours (tenant_id, hour)
  VALUES (OLD.tenant_id, date_trunc('hour', OLD.created_at, 'UTC'))
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER messages_metrics_deleted
  AFTER DELETE ON messages
  FOR EACH ROW WHEN (OLD.direction = 'outbound')
  EXECUTE FUNCTION wagate_metrics_deleted();

-- The coarse level of the delivery-time distribution: a delivery time's
-- bucket is the value with all but its 7 leading binary digits cleared, so
-- each power of two holds 64 buckets, each at most 1/64 of its values wide
-- (3000 ms falls in [2976, 3008)). Values below 128 (and the absurd ones
-- from 2^61 up) are their own bucket. A percentile is found in two steps:
-- the bucket that holds its rank (from the bucket totals), then the exact
-- value within that bucket (from the values stored with it). 64 per power
-- of two balances the two reads: a few hundred bucket totals per period,
-- and a few dozen values per period in each bucket a percentile falls in.
-- The bucket must only grow with the value, which this does.
--
-- floor(log2) comes from the floating-point logarithm, corrected by one
-- where rounding put it on the wrong side of a power of two: arithmetic
-- only, so the function is inlined and costs well under a microsecond.
CREATE FUNCTION wagate_delivery_time_bucket(ms bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN ms < 128 OR ms >= 2305843009213693952 THEN ms
    ELSE ms & ~((1::bigint << (floor(ln(ms::float8) / ln(2::float8))::int - 6
                 + (ms >= (1::bigint << (floor(ln(ms::float8) / ln(2::float8))::int + 1)))::int
                 - (ms < (1::bigint << floor(ln(ms::float8) / ln(2::float8))::int))::int)) - 1)
  END
$$;

-- Outbound messages by created_at hour (period 'hour') and UTC day
-- (period 'day', the sum of its 24 hours), per sender (from_addr; '' when
-- it has none) and for all senders together (sender '*'), so a query over
-- all senders reads one set of rows whatever their number.
--
-- error_code is 0 when the message has none. timed counts the messages with
-- a delivery time (delivery_ms, set by the first 'delivered' callback) and
-- delivery_ms_sum adds them up, for the average.
CREATE TABLE delivery_rollup_counts (
  tenant_id bigint NOT NULL REFERENCES tenants,
  period text NOT NULL CHECK (period IN ('hour', 'day')),
  period_start timestamptz NOT NULL,
  sender text NOT NULL,
  status text NOT NULL,
  error_code int NOT NULL,
  messages bigint NOT NULL CHECK (messages > 0),
  timed bigint NOT NULL,
  delivery_ms_sum bigint NOT NULL,
  -- A query reads one sender's consecutive periods: one range of this key.
  PRIMARY KEY (tenant_id, period, sender, period_start, status, error_code)
);
-- The job replaces a period for every sender at once.
CREATE INDEX delivery_rollup_counts_period_idx ON delivery_rollup_counts (tenant_id, period, period_start);

-- The delivery-time distribution, one row per bucket: its total, and every
-- distinct delivery time in it (ascending) with how many messages had it.
CREATE TABLE delivery_rollup_times (
  tenant_id bigint NOT NULL REFERENCES tenants,
  period text NOT NULL CHECK (period IN ('hour', 'day')),
  period_start timestamptz NOT NULL,
  sender text NOT NULL,
  bucket bigint NOT NULL,
  messages bigint NOT NULL CHECK (messages > 0),
  delivery_ms bigint[] NOT NULL,
  counts bigint[] NOT NULL CHECK (cardinality(counts) = cardinality(delivery_ms)),
  -- period_start before sender: the job replaces a period for every sender
  -- at once; a query names each period and the few buckets it needs.
  PRIMARY KEY (tenant_id, period, period_start, sender, bucket)
);

-- The bucket totals of each period and sender in one row, ascending by
-- bucket: the first step of a percentile reads one row per period instead
-- of one per bucket.
CREATE TABLE delivery_rollup_buckets (
  tenant_id bigint NOT NULL REFERENCES tenants,
  period text NOT NULL CHECK (period IN ('hour', 'day')),
  period_start timestamptz NOT NULL,
  sender text NOT NULL,
  buckets bigint[] NOT NULL,
  counts bigint[] NOT NULL CHECK (cardinality(counts) = cardinality(buckets)),
  PRIMARY KEY (tenant_id, period, period_start, sender)
);

-- The rollup job's watermark: the snapshot its last run computed from. Every
-- rollup row agrees with the messages as that snapshot saw them, except in
-- the hours of rows it could not see (metrics_xid not visible in it) and the
-- hours in metrics_dirty_hours. One row, written only by the job.
CREATE TABLE metrics_rollup_state (
  id smallint PRIMARY KEY CHECK (id = 1),
  snapshot pg_snapshot NOT NULL,
  rolled_up_at timestamptz NOT NULL
);

-- Retention drops or detaches whole partitions, which fires no trigger:
-- whoever does so calls this in the same transaction, so that the metrics
-- of those months go with their messages. Forgets every rollup row (all
-- tenants) of periods that start before p_before (a UTC month boundary, so
-- no day straddles it) and returns how many rows it removed.
CREATE FUNCTION wagate_metrics_forget(p_before timestamptz) RETURNS bigint
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
  DELETE FROM metrics_dirty_hours WHERE hour < p_before;
  RETURN v_counts + v_times;
END $$;
