-- 003_sending.sql — the sender's write paths: claims, outcomes, recording a SID, stale claims, orphaned callbacks.
--
-- wagate-sender and wagate-maint own a message between 'accepted' and the
-- moment Twilio gives it a SID. Their rules live here so that every writer
-- (the sender, reconciliation, an operator's retry) moves messages the same
-- way. "Never send twice unknowingly": a message is claimed ('dispatching')
-- and committed before its request leaves; an outcome is recorded only by the
-- attempt that claimed it (messages.attempts is the fencing token); a request
-- that may have reached Twilio without an answer becomes 'unknown' and only
-- reconciliation against Twilio's own list may ever send it again.

-- When the current attempt's request left, and why the last attempt did not
-- succeed (a transport error, an HTTP status): for operators, never shown to
-- Twilio. error_code / error_message stay Twilio's own.
ALTER TABLE messages ADD COLUMN last_attempt_at timestamptz;
ALTER TABLE messages ADD COLUMN last_error text;
-- When the sweeper last put a due message back in the queue: it does not
-- queue it again for 30 s (its entry is likely still waiting in the stream),
-- and a claim or a deferral clears it. Kept apart from next_attempt_at so
-- that a queued message still reads as due when a sender loads it.
ALTER TABLE messages ADD COLUMN requeued_at timestamptz;

-- A claim left behind by a sender that died: found by wagate-maint. Tiny,
-- because a message is 'dispatching' only while its request is in flight.
CREATE INDEX messages_dispatching_idx ON messages (last_attempt_at) WHERE status = 'dispatching';

-- NULL: the configured sender_mps applies. A number set for a tenant
-- overrides it (Twilio raises a sender's limit on request).
ALTER TABLE tenants ALTER COLUMN rate_limit_mps DROP NOT NULL;
ALTER TABLE tenants ALTER COLUMN rate_limit_mps DROP DEFAULT;

-- wagate's own statuses before Twilio knows the message. A SID from Twilio
-- supersedes every one of them, whatever their rank: 'unknown' ranks above
-- 'queued' only so that no callback-less path can move it back to a sendable
-- state, not because it knows more than Twilio does.
CREATE FUNCTION wagate_is_pre_twilio_status(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT status IN ('accepted', 'scheduled', 'retrying', 'dispatching', 'unknown')
$$;

-- Records the SID Twilio gave a message (a 201 to the sender, or a match
-- found by reconciliation): the message row first, then message_index, in
-- one transaction, so that the AFTER INSERT trigger on message_index applies
-- the callbacks that arrived before the SID was known. Returns
--   'recorded'      the SID is now the message's;
--   'duplicate'     the message already had this very SID;
--   'sid_conflict'  the message has another SID, or this SID belongs to
--                   another message (two requests created two Twilio
--                   messages: logged loudly by the caller, nothing changed);
--   'missing'       no such message.
CREATE FUNCTION wagate_record_sent(p_tenant_id bigint, p_created_at timestamptz, p_id uuid, p_sid text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_sid text;
  v_index message_index%ROWTYPE;
BEGIN
  -- Serialised with callbacks of this SID (and with another recorder of it:
  -- the sender and reconciliation can both hold it), so that the check
  -- below sees every committed message_index row.
  PERFORM wagate_lock_sid(p_sid);
  SELECT m.message_sid INTO v_sid FROM messages m
   WHERE m.tenant_id = p_tenant_id AND m.created_at = p_created_at AND m.id = p_id
   FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 'missing';
  END IF;
  IF v_sid IS NOT NULL THEN
    RETURN CASE WHEN v_sid = p_sid THEN 'duplicate' ELSE 'sid_conflict' END;
  END IF;
  SELECT * INTO v_index FROM message_index WHERE message_sid = p_sid;
  IF FOUND THEN
    RETURN CASE WHEN v_index.tenant_id = p_tenant_id AND v_index.message_id = p_id THEN 'duplicate'
                ELSE 'sid_conflict' END;
  END IF;
  UPDATE messages m SET
    message_sid = p_sid,
    status = CASE WHEN wagate_is_pre_twilio_status(m.status) THEN 'queued' ELSE m.status END,
    status_rank = CASE WHEN wagate_is_pre_twilio_status(m.status) THEN wagate_status_rank('queued')
                       ELSE m.status_rank END,
    queued_at = COALESCE(m.queued_at, now()),
    last_status_at = GREATEST(m.last_status_at, now()),
    next_attempt_at = NULL
  WHERE m.tenant_id = p_tenant_id AND m.created_at = p_created_at AND m.id = p_id;
  INSERT INTO message_index (message_sid, tenant_id, message_id, created_at)
  VALUES (p_sid, p_tenant_id, p_id, p_created_at);
  RETURN 'recorded';
END $$;

-- Records a batch of send outcomes in one statement (one commit for the
-- batch). Input: a JSON array of
--   {"tenant_id", "created_at", "id", "attempt", "outcome", "sid",
--    "error_code", "error_message", "retry_in_ms", "last_error"}
-- where outcome is
--   'created'   Twilio answered 201 with "sid";
--   'failed'    final: Twilio refused it (4xx) or the attempts ran out;
--   'retrying'  not processed by Twilio (429, 503, no connection): sent
--               again after retry_in_ms by the sweeper;
--   'unknown'   the request may have reached Twilio: only reconciliation
--               decides what happens next.
-- Only the attempt that claimed the message may record 'failed',
-- 'retrying' or 'unknown' (attempts = attempt), and only over wagate's own
-- 'dispatching' (or 'unknown', for a real answer recorded late). A SID is
-- recorded whatever the attempt: it is Twilio's word that the message exists.
-- Output: one row per input, in order: see wagate_record_sent, plus
-- 'recorded' / 'stale' (the claim was no longer this attempt's).
CREATE FUNCTION wagate_record_send_results(p_batch jsonb)
RETURNS TABLE (ord int, result text) LANGUAGE plpgsql AS $$
DECLARE
  r record;
  v_tenant bigint;
  v_created timestamptz;
  v_id uuid;
  v_attempt int;
  v_outcome text;
  v_count int;
  v_sid text;
BEGIN
  -- The SID locks of the whole batch first, in one fixed order (the one the
  -- callback path uses), so that this batch and a batch of callbacks can
  -- never wait for each other in a circle.
  FOR v_sid IN SELECT DISTINCT e->>'sid' FROM jsonb_array_elements(p_batch) e
                WHERE e->>'outcome' = 'created' AND e->>'sid' IS NOT NULL ORDER BY 1 LOOP
    PERFORM wagate_lock_sid(v_sid);
  END LOOP;
  FOR r IN SELECT e.value AS v, e.ordinality::int AS i FROM jsonb_array_elements(p_batch) WITH ORDINALITY e LOOP
    v_tenant := (r.v->>'tenant_id')::bigint;
    v_created := (r.v->>'created_at')::timestamptz;
    v_id := (r.v->>'id')::uuid;
    v_attempt := (r.v->>'attempt')::int;
    v_outcome := r.v->>'outcome';
    IF v_outcome = 'created' THEN
      ord := r.i;
      result := wagate_record_sent(v_tenant, v_created, v_id, r.v->>'sid');
      RETURN NEXT;
      CONTINUE;
    END IF;
    IF v_outcome = 'failed' THEN
      UPDATE messages m SET
        status = 'failed', status_rank = wagate_status_rank('failed'),
        error_code = NULLIF(r.v->>'error_code', '')::int,
        error_message = NULLIF(r.v->>'error_message', ''),
        failed_at = COALESCE(m.failed_at, now()),
        last_status_at = GREATEST(m.last_status_at, now()),
        last_error = NULLIF(r.v->>'last_error', ''),
        next_attempt_at = NULL
      WHERE m.tenant_id = v_tenant AND m.created_at = v_created AND m.id = v_id AND m.attempts = v_attempt
        AND m.status IN ('dispatching', 'unknown') AND m.message_sid IS NULL;
    ELSIF v_outcome = 'retrying' THEN
      UPDATE messages m SET
        status = 'retrying', status_rank = wagate_status_rank('retrying'),
        next_attempt_at = now() + make_interval(secs => (r.v->>'retry_in_ms')::bigint / 1000.0),
        last_error = NULLIF(r.v->>'last_error', '')
      WHERE m.tenant_id = v_tenant AND m.created_at = v_created AND m.id = v_id AND m.attempts = v_attempt
        AND m.status IN ('dispatching', 'unknown') AND m.message_sid IS NULL;
    ELSIF v_outcome = 'unknown' THEN
      -- next_attempt_at is when reconciliation looks at it first.
      UPDATE messages m SET
        status = 'unknown', status_rank = wagate_status_rank('unknown'),
        next_attempt_at = now(),
        last_error = NULLIF(r.v->>'last_error', '')
      WHERE m.tenant_id = v_tenant AND m.created_at = v_created AND m.id = v_id AND m.attempts = v_attempt
        AND m.status = 'dispatching' AND m.message_sid IS NULL;
    ELSE
      RAISE EXCEPTION 'wagate_record_send_results: unknown outcome %', v_outcome USING ERRCODE = '22023';
    END IF;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    ord := r.i;
    result := CASE WHEN v_count = 1 THEN 'recorded' ELSE 'stale' END;
    RETURN NEXT;
  END LOOP;
END $$;

-- A claim older than the longest a request may take (plus a margin) was
-- left by a sender that died or hung with the request possibly sent: its
-- outcome is unknown, never "not sent". Returns how many it marked.
CREATE FUNCTION wagate_mark_stale_dispatching(p_older_than interval) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_count int;
BEGIN
  UPDATE messages m SET
    status = 'unknown', status_rank = wagate_status_rank('unknown'),
    next_attempt_at = now(),
    last_error = 'claimed by a sender that stopped while its request may have been in flight'
  WHERE m.status = 'dispatching' AND m.last_attempt_at < now() - p_older_than AND m.message_sid IS NULL;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;

-- A safety net: events whose SID is in message_index but that are still
-- unapplied (a writer that did not take the SID lock, a restored backup).
-- Applies them, in arrival order, to their messages; returns how many.
CREATE FUNCTION wagate_apply_orphaned_events(p_limit int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  e record;
  v_sids text[];
  v_sid text;
  v_prev text;
  v_count int := 0;
BEGIN
  SELECT coalesce(array_agg(x.sid ORDER BY x.sid), '{}') INTO v_sids
    FROM (SELECT DISTINCT s.message_sid AS sid
            FROM status_events s
            JOIN message_index i ON i.message_sid = s.message_sid AND i.tenant_id = s.tenant_id
           WHERE NOT s.applied
             -- Older unapplied events are callbacks for messages wagate never
             -- sent; they need not be scanned again and again.
             AND s.received_at > now() - interval '1 day'
           ORDER BY 1 LIMIT p_limit) x;
  -- The SID locks first, in the callback path's order.
  FOREACH v_sid IN ARRAY v_sids LOOP
    PERFORM wagate_lock_sid(v_sid);
  END LOOP;
  FOR e IN SELECT s.event_id, s.status, s.error_code, s.error_message, s.received_at,
                  i.tenant_id, i.message_id, i.created_at
             FROM status_events s
             JOIN message_index i ON i.message_sid = s.message_sid AND i.tenant_id = s.tenant_id
            WHERE NOT s.applied AND s.message_sid = ANY (v_sids)
            ORDER BY s.received_at, s.event_id LOOP
    SELECT m.status INTO v_prev FROM messages m
     WHERE m.tenant_id = e.tenant_id AND m.created_at = e.created_at AND m.id = e.message_id
     FOR UPDATE;
    IF NOT FOUND THEN
      CONTINUE;
    END IF;
    UPDATE status_events SET applied = true, previous_status = v_prev
     WHERE event_id = e.event_id AND NOT applied;
    IF FOUND THEN
      PERFORM wagate_apply_event_to_message(e.tenant_id, e.message_id, e.created_at, e.status,
                                            e.error_code, e.error_message, e.received_at);
      v_count := v_count + 1;
    END IF;
  END LOOP;
  RETURN v_count;
END $$;
