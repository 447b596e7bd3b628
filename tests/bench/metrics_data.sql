-- metrics_data.sql — outbound messages with a realistic outcome mix, for the delivery-metrics benchmark (scripts/bench metrics).
--
-- psql variables:
--   tenant  tenant_id the rows belong to
--   first   first row number of this batch (0-based)
--   last    last row number of this batch
--   total   rows of the whole data set (spacing of created_at)
--   start   created_at of row 0 (timestamptz literal)
--   span_s  seconds the whole data set covers
--   prefix  MessageSid prefix, unique per data set
--
-- Row i is created at start + (i + a random fraction) * span / total, so the
-- rows arrive in time order, as real traffic does. The mix:
--   50 % read, 30 % delivered (delivery time log-normal, median 3 s), 10 %
--   still sent, 7 % failed and 3 % undelivered with real error codes; three
--   sender numbers (60/30/10 %).
-- The rows are the real messages table's, written through its partitions,
-- indexes and defaults like any insert.
INSERT INTO messages (tenant_id, created_at, direction, message_sid, from_addr, to_addr, body, status, status_rank,
                      error_code, error_message, queued_at, sent_at, delivered_at, read_at, failed_at, last_status_at,
                      delivery_ms, attempts)
SELECT :tenant, g.created_at, 'outbound', :'prefix' || lpad(to_hex(g.i), 32 - length(:'prefix') + 2, '0'),
       g.sender, 'whatsapp:+1555' || lpad((g.i % 9999991)::text, 7, '0'), 'bench', o.status,
       wagate_status_rank(o.status), o.error_code, CASE WHEN o.error_code IS NOT NULL THEN 'bench failure' END,
       g.created_at + interval '150 milliseconds', g.created_at + interval '400 milliseconds',
       CASE WHEN o.status IN ('delivered', 'read') THEN g.created_at + d.ms * interval '1 millisecond' END,
       CASE WHEN o.status = 'read' THEN g.created_at + (d.ms + 20000) * interval '1 millisecond' END,
       CASE WHEN o.status IN ('failed', 'undelivered') THEN g.created_at + interval '2 seconds' END,
       g.created_at + CASE o.status WHEN 'read' THEN (d.ms + 20000) * interval '1 millisecond'
                                    WHEN 'delivered' THEN d.ms * interval '1 millisecond'
                                    WHEN 'sent' THEN interval '400 milliseconds'
                                    ELSE interval '2 seconds' END,
       CASE WHEN o.status IN ('delivered', 'read') THEN d.ms END, 1
  FROM (SELECT i,
               :'start'::timestamptz + ((i + random()) * :span_s * 1000000 / :total)::bigint * interval '1 microsecond'
                 AS created_at,
               CASE WHEN random() < 0.6 THEN 'whatsapp:+14155238886'
                    WHEN random() < 0.75 THEN 'whatsapp:+14155238887'
                    ELSE 'whatsapp:+14155238888' END AS sender,
               random() AS u_status, random() AS u_code, random() AS u1, random() AS u2
          FROM generate_series(:first::bigint, :last::bigint) AS i) g
 CROSS JOIN LATERAL (
   SELECT CASE WHEN g.u_status < 0.50 THEN 'read' WHEN g.u_status < 0.80 THEN 'delivered'
               WHEN g.u_status < 0.90 THEN 'sent' WHEN g.u_status < 0.97 THEN 'failed'
               ELSE 'undelivered' END AS status) s
 CROSS JOIN LATERAL (
   SELECT s.status,
          CASE s.status
            WHEN 'failed' THEN (ARRAY[63016, 63016, 63016, 63024, 63024, 63003, 63018, 63049, 21211, 63032,
                                      30008])[1 + floor(g.u_code * 11)::int]
            WHEN 'undelivered' THEN (ARRAY[30003, 30003, 30003, 30005, 30005, 30006, 30008, 63024])
                                      [1 + floor(g.u_code * 8)::int]
          END AS error_code) o
 -- Box-Muller: exp(N(ln 3000, 0.6)) ms, a median of 3 s with a long right tail.
 CROSS JOIN LATERAL (
   SELECT greatest(1, round(exp(ln(3000) + 0.6 * sqrt(-2 * ln(1 - g.u1)) * cos(2 * pi() * g.u2))))::bigint AS ms) d;
