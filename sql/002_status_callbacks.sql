-- 002_status_callbacks.sql — forward-only status rules and the callback/inbound write paths.
--
-- The rules for how a message's status may move live here, in one place, so
-- that every writer (the status handler, the spool replay, the sender when it
-- records a SID) applies exactly the same ones inside the transaction that
-- stores the callback.

-- Rank of a status: a callback moves a message only to a strictly higher
-- rank. NULL for a status this version does not know: such a callback is
-- kept in the history but moves nothing.
--
--   accepted 10 < scheduled 11 < retrying 12 < dispatching 13 < queued 20
--   < unknown 21 < sending 30 < sent 40
--   < partially_delivered 50 < undelivered 60 < failed 65 < canceled 66
--   < delivered 80 < read 90
--
-- Consequences a reviewer can check against this table:
--   * a late `sent` never undoes `delivered`, `read`, `failed` or `undelivered`;
--   * `read` follows `delivered`; a late `delivered` never undoes `read`;
--   * `undelivered` then `failed` ends `failed`; `failed` then `undelivered`
--     stays `failed` (both are kept in the history);
--   * `delivered` after a failure wins: the handset confirmed it.
-- Inbound messages use receiving 10 < received 20. Three statuses are
-- wagate's own, before Twilio knows the message: retrying (a retryable send
-- failure, waiting for its next attempt), dispatching (a sender claimed it and
-- its request to Twilio may be in flight) and unknown (the request left but
-- its outcome was lost: reconciliation asks Twilio, nothing re-sends it).
CREATE FUNCTION wagate_status_rank(status text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE status
    WHEN 'accepted' THEN 10 WHEN 'scheduled' THEN 11 WHEN 'receiving' THEN 10
    WHEN 'retrying' THEN 12 WHEN 'dispatching' THEN 13
    WHEN 'queued' THEN 20 WHEN 'received' THEN 20 WHEN 'unknown' THEN 21
    WHEN 'sending' THEN 30 WHEN 'sent' THEN 40 WHEN 'partially_delivered' THEN 50
    WHEN 'undelivered' THEN 60 WHEN 'failed' THEN 65 WHEN 'canceled' THEN 66
    WHEN 'delivered' THEN 80 WHEN 'read' THEN 90
  END::smallint
$$;

-- Applies one stored event to its message row (already locked by the caller).
-- Timestamps take the arrival time of the first callback of each kind.
CREATE FUNCTION wagate_apply_event_to_message(
    p_tenant_id bigint, p_message_id uuid, p_created_at timestamptz,
    p_status text, p_error_code int, p_error_message text, p_received_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_rank smallint := wagate_status_rank(p_status);
BEGIN
  UPDATE messages m SET
    status = CASE WHEN v_rank > m.status_rank THEN p_status ELSE m.status END,
    status_rank = CASE WHEN v_rank > m.status_rank THEN v_rank ELSE m.status_rank END,
    error_code = CASE WHEN v_rank > m.status_rank AND p_error_code IS NOT NULL THEN p_error_code ELSE m.error_code END,
    error_message = CASE WHEN v_rank > m.status_rank AND p_error_code IS NOT NULL THEN p_error_message
                         ELSE m.error_message END,
    queued_at = CASE WHEN p_status = 'queued' THEN COALESCE(m.queued_at, p_received_at) ELSE m.queued_at END,
    sent_at = CASE WHEN p_status = 'sent' THEN COALESCE(m.sent_at, p_received_at) ELSE m.sent_at END,
    delivered_at = CASE WHEN p_status = 'delivered' THEN COALESCE(m.delivered_at, p_received_at) ELSE m.delivered_at END,
    read_at = CASE WHEN p_status = 'read' THEN COALESCE(m.read_at, p_received_at) ELSE m.read_at END,
    failed_at = CASE WHEN p_status IN ('failed', 'undelivered') THEN COALESCE(m.failed_at, p_received_at)
                     ELSE m.failed_at END,
    delivery_ms = CASE WHEN p_status = 'delivered' AND m.delivered_at IS NULL
                       THEN (EXTRACT(EPOCH FROM (p_received_at - m.created_at)) * 1000)::bigint
                       ELSE m.delivery_ms END,
    last_status_at = GREATEST(m.last_status_at, p_received_at)
  WHERE m.tenant_id = p_tenant_id AND m.created_at = p_created_at AND m.id = p_message_id
    AND v_rank IS NOT NULL;
END $$;

-- Serialises everything that decides whether a callback finds its message:
-- storing a callback and recording a SID take this lock on the MessageSid.
-- Without it, a callback stored while the sender records the SID could be
-- missed by both (each unable to see the other's uncommitted row) and stay
-- unapplied. Taken in a fixed order, so concurrent batches cannot deadlock.
CREATE FUNCTION wagate_lock_sid(p_sid text) RETURNS void
LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(2003396705, hashtext(p_sid))
$$;

-- Stores a batch of status callbacks in one statement (one transaction, one
-- commit for the whole batch) and applies each to its message when the
-- message is known. Input: a JSON array of
--   {"tenant_id", "sid", "status", "error_code", "error_message", "received_at"}
-- in arrival order. Output: one row per input, in order: 'stored' (new
-- event), 'duplicate' (same MessageSid + status seen before: nothing changed).
CREATE FUNCTION wagate_store_status_callbacks(p_batch jsonb)
RETURNS TABLE (ord int, outcome text) LANGUAGE plpgsql AS $$
DECLARE
  r record;
  v_idx message_index%ROWTYPE;
  v_prev text;
  v_event bigint;
  v_stored text[] := '{}';   -- tenant|sid|status of events this batch created
BEGIN
  PERFORM wagate_lock_sid(s.sid)
     FROM (SELECT DISTINCT e->>'sid' AS sid FROM jsonb_array_elements(p_batch) e ORDER BY 1) s;

  -- Callbacks of messages not known (yet): one set-based insert.
  WITH input AS (
    SELECT e.ordinality AS i, (e.value->>'tenant_id')::bigint AS tenant_id, e.value->>'sid' AS sid,
           e.value->>'status' AS status, NULLIF(e.value->>'error_code', '')::int AS error_code,
           NULLIF(e.value->>'error_message', '') AS error_message,
           (e.value->>'received_at')::timestamptz AS received_at
      FROM jsonb_array_elements(p_batch) WITH ORDINALITY e
  ), ins AS (
    INSERT INTO status_events (tenant_id, message_sid, status, error_code, error_message, received_at, applied)
    SELECT tenant_id, sid, status, error_code, error_message, received_at, false
      FROM input
     WHERE NOT EXISTS (SELECT 1 FROM message_index m WHERE m.message_sid = input.sid AND m.tenant_id = input.tenant_id)
     ORDER BY i
    ON CONFLICT (tenant_id, message_sid, status) DO NOTHING
    RETURNING tenant_id || '|' || message_sid || '|' || status AS k
  )
  SELECT coalesce(array_agg(k), '{}') INTO v_stored FROM ins;

  -- Callbacks of known messages, in arrival order: each records the status
  -- before it and moves the message forward only.
  FOR r IN SELECT e.value AS v, (e.value->>'tenant_id')::bigint AS tenant_id, e.value->>'sid' AS sid,
                  (e.value->>'received_at')::timestamptz AS received_at,
                  NULLIF(e.value->>'error_code', '')::int AS error_code
             FROM jsonb_array_elements(p_batch) WITH ORDINALITY e
            WHERE EXISTS (SELECT 1 FROM message_index m
                           WHERE m.message_sid = e.value->>'sid' AND m.tenant_id = (e.value->>'tenant_id')::bigint)
            ORDER BY e.ordinality LOOP
    SELECT * INTO v_idx FROM message_index WHERE message_sid = r.sid AND tenant_id = r.tenant_id;
    SELECT m.status INTO v_prev FROM messages m
     WHERE m.tenant_id = r.tenant_id AND m.created_at = v_idx.created_at AND m.id = v_idx.message_id
       FOR UPDATE;
    v_event := NULL;
    INSERT INTO status_events (tenant_id, message_sid, status, previous_status, error_code, error_message,
                               received_at, applied)
    VALUES (r.tenant_id, r.sid, r.v->>'status', v_prev, r.error_code, NULLIF(r.v->>'error_message', ''),
            r.received_at, v_prev IS NOT NULL)
    ON CONFLICT (tenant_id, message_sid, status) DO NOTHING
    RETURNING event_id INTO v_event;
    IF v_event IS NOT NULL THEN
      v_stored := v_stored || (r.tenant_id || '|' || r.sid || '|' || (r.v->>'status'));
      IF v_prev IS NOT NULL THEN
        PERFORM wagate_apply_event_to_message(r.tenant_id, v_idx.message_id, v_idx.created_at, r.v->>'status',
                                              r.error_code, NULLIF(r.v->>'error_message', ''), r.received_at);
      END IF;
    END IF;
  END LOOP;

  -- The first of identical callbacks in this batch is the one stored.
  RETURN QUERY
  SELECT x.i::int, CASE WHEN x.k = ANY (v_stored) AND x.first THEN 'stored' ELSE 'duplicate' END
    FROM (SELECT e.ordinality AS i,
                 (e.value->>'tenant_id') || '|' || (e.value->>'sid') || '|' || (e.value->>'status') AS k,
                 row_number() OVER (PARTITION BY e.value->>'tenant_id', e.value->>'sid', e.value->>'status'
                                    ORDER BY e.ordinality) = 1 AS first
            FROM jsonb_array_elements(p_batch) WITH ORDINALITY e) x
   ORDER BY x.i;
END $$;

-- A callback can beat the sender's commit of the SID. When the SID appears
-- (a row in message_index), the events that waited for it are applied in
-- arrival order, each recording the status before it.
CREATE FUNCTION wagate_apply_pending_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  e record;
  v_prev text;
BEGIN
  PERFORM wagate_lock_sid(NEW.message_sid);
  FOR e IN SELECT * FROM status_events
            WHERE message_sid = NEW.message_sid AND tenant_id = NEW.tenant_id AND NOT applied
            ORDER BY received_at, event_id LOOP
    SELECT m.status INTO v_prev FROM messages m
     WHERE m.tenant_id = NEW.tenant_id AND m.created_at = NEW.created_at AND m.id = NEW.message_id
     FOR UPDATE;
    IF NOT FOUND THEN
      RETURN NEW;
    END IF;
    PERFORM wagate_apply_event_to_message(NEW.tenant_id, NEW.message_id, NEW.created_at, e.status,
                                          e.error_code, e.error_message, e.received_at);
    UPDATE status_events SET applied = true, previous_status = v_prev WHERE event_id = e.event_id;
  END LOOP;
  RETURN NEW;
END $$;

CREATE TRIGGER message_index_apply_pending AFTER INSERT ON message_index
  FOR EACH ROW EXECUTE FUNCTION wagate_apply_pending_events();

-- Structured extras of an inbound message (button, location, reply, referral).
ALTER TABLE messages ADD COLUMN details jsonb;

-- The contact's phone in E.164 from a WhatsApp address ("whatsapp:+1555..." -> "+1555...").
CREATE FUNCTION wagate_contact_phone(address text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT regexp_replace(address, '^[a-z]+:', '')
$$;

-- Stores one inbound message record (see fcgi/inbound): deduplicated on
-- MessageSid, opens or extends the contact's 24-hour window, and records an
-- opt-out or opt-in. Returns 'stored' or 'duplicate'.
CREATE FUNCTION wagate_store_inbound(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_tenant bigint := (p->>'tenant_id')::bigint;
  v_received timestamptz := (p->>'received_at')::timestamptz;
  v_id uuid := gen_random_uuid();
  v_phone text := wagate_contact_phone(p->>'from');
  v_action text := NULLIF(p->>'contact_action', '');
BEGIN
  INSERT INTO message_index (message_sid, tenant_id, message_id, created_at)
  VALUES (p->>'sid', v_tenant, v_id, v_received)
  ON CONFLICT (message_sid) DO NOTHING;
  IF NOT FOUND THEN
    RETURN 'duplicate';
  END IF;
  INSERT INTO messages (tenant_id, id, created_at, direction, message_sid, from_addr, to_addr, body, media,
                        status, status_rank, profile_name, wa_id, params, details, last_status_at)
  VALUES (v_tenant, v_id, v_received, 'inbound', p->>'sid', p->>'from', p->>'to', p->>'body', p->'media',
          'received', wagate_status_rank('received'), p->>'profile_name', p->>'wa_id', p->'params', p->'details',
          v_received);
  INSERT INTO conversations AS c (tenant_id, phone, last_inbound_at, window_expires_at)
  VALUES (v_tenant, v_phone, v_received, v_received + interval '24 hours')
  ON CONFLICT (tenant_id, phone) DO UPDATE
    SET last_inbound_at = GREATEST(c.last_inbound_at, EXCLUDED.last_inbound_at),
        window_expires_at = GREATEST(c.window_expires_at, EXCLUDED.window_expires_at);
  IF v_action = 'opt_out' THEN
    UPDATE conversations SET opted_out = true, opted_out_at = v_received
     WHERE tenant_id = v_tenant AND phone = v_phone;
  ELSIF v_action = 'opt_in' THEN
    UPDATE conversations SET opted_out = false, opted_in_at = v_received
     WHERE tenant_id = v_tenant AND phone = v_phone;
  END IF;
  IF v_action IS NOT NULL THEN
    INSERT INTO contact_events (tenant_id, phone, kind, keyword, message_sid, at)
    VALUES (v_tenant, v_phone, v_action, upper(trim(p->>'body')), p->>'sid', v_received);
  END IF;
  RETURN 'stored';
END $$;
