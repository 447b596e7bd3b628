-- 008_distribution_replies.sql — replies mark distribution recipients in the inbound write path; the breaker's watermark.
--
-- A reply is recorded by the same statement that stores the inbound message
-- (the webhook and the spool replay both call wagate_store_inbound), so it
-- is exact and immediate: no job scans the inbox afterwards, and a reply
-- replayed from the spool is marked the same way.

-- The recipients a reply can still mark: those with a message, not marked
-- yet. Small (a recipient leaves it at its first reply) and probed by
-- (tenant, phone) on every inbound message.
CREATE INDEX distribution_recipients_unreplied_idx ON distribution_recipients (tenant_id, phone)
  WHERE message_id IS NOT NULL AND replied_at IS NULL;

-- The circuit breaker (wagate-maint job distribution_breaker) judges only
-- the outcomes after this time. NULL: the whole distribution. Resuming a
-- distribution (POST /api/v1/distributions/{id}/resume) must set it to
-- now(), so that a distribution resumed after a pause is not paused again
-- at once for the failures that paused it.
ALTER TABLE distributions ADD COLUMN breaker_since timestamptz;

-- As in 002, plus: every recipient of the tenant with this phone whose
-- campaign message was created within the reply window before the inbound
-- message arrived (and after nothing later: a reply does not precede its
-- message) is marked replied, once (replied_at keeps the first reply).
-- The window comes with the record ("reply_window_hours", written by the
-- inbound handler from its configuration when the webhook arrives, so a
-- spooled record keeps the window in force when it was received); a record
-- without it (spooled by an older version) uses the default, 72 hours.
-- An opt-out keyword (STOP) is a reply too: it marks the recipient replied
-- and, as before, opts the phone out in conversations, which every later
-- distribution of the tenant checks when it plans.
CREATE OR REPLACE FUNCTION wagate_store_inbound(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_tenant bigint := (p->>'tenant_id')::bigint;
  v_received timestamptz := (p->>'received_at')::timestamptz;
  v_id uuid := gen_random_uuid();
  v_phone text := wagate_contact_phone(p->>'from');
  v_action text := NULLIF(p->>'contact_action', '');
  v_window interval := make_interval(hours => coalesce((p->>'reply_window_hours')::int, 72));
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
  -- The message's created_at bounds the partitions scanned: only the
  -- window's months are probed for each candidate recipient.
  UPDATE distribution_recipients r SET replied_at = v_received
    FROM messages m
   WHERE r.tenant_id = v_tenant AND r.phone = v_phone
     AND r.message_id IS NOT NULL AND r.replied_at IS NULL
     AND m.tenant_id = r.tenant_id AND m.id = r.message_id AND m.direction = 'outbound'
     AND m.created_at <= v_received AND m.created_at > v_received - v_window;
  RETURN 'stored';
END $$;
