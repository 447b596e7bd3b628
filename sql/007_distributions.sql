-- 007_distributions.sql — distributions (campaigns to contact lists) and their recipients, one row per phone.
--
-- A distribution is one request: a message (free-form body or an approved
-- template), an optional tracked link, a schedule and a pace. Each contact
-- becomes one distribution_recipients row, rendered when it is planned, so
-- what a recipient is sent never depends on when the feeder gets to it.
-- UNIQUE (distribution_id, phone) is the "exactly once per recipient" of the
-- whole feature: no code path can plan a phone twice in one distribution.
--
-- Progress is not kept in counters on the distribution row (every callback
-- would update the same row): the funnel is counted from the recipients
-- joined with their messages and links when it is asked for.
--
-- wagate-sender's feeder (worker/sender/feeder.cpp) turns planned recipients
-- into messages rows, paced and inside their send windows; the statements
-- and functions it shares with the API's pause/resume/cancel are here.

-- 001's placeholders for campaigns were never used: distributions replace
-- them, and a message knows its distribution instead. Dropping the column
-- drops its foreign key; both propagate to every partition of messages.
ALTER TABLE messages DROP COLUMN campaign_id;
DROP TABLE campaign_recipients;
DROP TABLE campaigns;
ALTER TABLE messages ADD COLUMN distribution_id uuid;  -- NULL: not sent for a distribution
-- Twilio's ValidityPeriod for a message that must not arrive after its
-- distribution's expires_at: seconds from the message's created_at, set by
-- the feeder (min(36000, expires_at - now())); the sender sends what is left
-- of it. NULL: no ValidityPeriod (Twilio's default, 36000).
ALTER TABLE messages ADD COLUMN validity_period_s int CHECK (validity_period_s BETWEEN 1 AND 36000);

CREATE TABLE distributions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id bigint NOT NULL REFERENCES tenants,
  name text NOT NULL CHECK (name <> ''),
  status text NOT NULL DEFAULT 'scheduled'
    CHECK (status IN ('scheduled', 'running', 'paused', 'completed', 'canceled')),
  -- Why the status is what it is when the gateway chose it (a circuit
  -- breaker's pause, an expiry); NULL for a status the client asked for.
  status_reason text,
  -- Exactly one of a free-form body template and a template's content_sid.
  body text,
  content_sid text CHECK (content_sid IS NULL OR content_sid ~ '^HX[0-9a-fA-F]{32}$'),
  content_variables jsonb CHECK (content_variables IS NULL OR jsonb_typeof(content_variables) = 'object'),
  link text,  -- the target URL template; NULL: the message has no tracked link
  send_at timestamptz,
  -- In each recipient's local time; end before start spans midnight.
  window_start time,
  window_end time,
  rate_per_second int CHECK (rate_per_second > 0),
  sender text,  -- NULL: the tenant's own WhatsApp number or Messaging Service
  expires_at timestamptz,
  idempotency_key text,
  -- Planned recipients, set when they are inserted (a later append adds to
  -- it in the same transaction): the list shows sizes without a count(*).
  recipient_count int NOT NULL DEFAULT 0 CHECK (recipient_count >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- The feeder's pace, shared by every sender host: messages it may still
  -- make (fractions carried from pass to pass) as of fed_at, its last pass.
  feed_credit double precision NOT NULL DEFAULT 0,
  fed_at timestamptz,
  CHECK ((body IS NULL) <> (content_sid IS NULL)),
  CHECK (content_variables IS NULL OR content_sid IS NOT NULL),
  CHECK ((window_start IS NULL) = (window_end IS NULL) AND (window_start IS NULL OR window_start <> window_end)),
  CHECK (expires_at IS NULL OR send_at IS NULL OR expires_at > send_at),
  UNIQUE (tenant_id, id)  -- target of the tenant-scoped foreign keys below
);
-- The list: a tenant's distributions newest first, paged on (created_at, id).
CREATE INDEX distributions_list_idx ON distributions (tenant_id, created_at DESC, id DESC);
-- What the feeder looks at every pass: few rows however many distributions are over.
CREATE INDEX distributions_active_idx ON distributions (id) WHERE status IN ('scheduled', 'running');

CREATE TABLE distribution_recipients (
  id bigserial PRIMARY KEY,
  tenant_id bigint NOT NULL,
  distribution_id uuid NOT NULL,
  phone text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
  name text,
  variables jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(variables) = 'object'),
  timezone text,  -- IANA name from the contact; NULL: derived from the phone when windows are applied
  -- What this recipient is sent, rendered at planning: exactly one of the two.
  body text,
  content_variables jsonb CHECK (content_variables IS NULL OR jsonb_typeof(content_variables) = 'object'),
  link_token text,  -- NULL when the distribution has no link
  -- planned: waiting for the feeder; queued: its messages row exists
  -- (message_id) and the message's own status tells the rest; sent and
  -- failed: outcomes recorded here when there is no message to carry them;
  -- skipped: never sent, error says why; canceled: by the client or expiry.
  status text NOT NULL DEFAULT 'planned'
    CHECK (status IN ('planned', 'queued', 'sent', 'failed', 'skipped', 'canceled')),
  message_id uuid,  -- messages.id (messages is partitioned, so no foreign key)
  error text,
  replied_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (status NOT IN ('queued', 'sent') OR message_id IS NOT NULL),
  UNIQUE (distribution_id, phone),
  UNIQUE (tenant_id, id),  -- target of distribution_links' tenant-scoped key
  FOREIGN KEY (tenant_id, distribution_id) REFERENCES distributions (tenant_id, id)
);
-- Pages of a distribution's recipients in planning order, and the funnel's scan.
CREATE INDEX distribution_recipients_page_idx ON distribution_recipients (tenant_id, distribution_id, id);
-- What the feeder will claim next, small once a distribution has gone out.
CREATE INDEX distribution_recipients_planned_idx ON distribution_recipients (distribution_id, id)
  WHERE status = 'planned';
CREATE UNIQUE INDEX distribution_recipients_token_idx ON distribution_recipients (link_token)
  WHERE link_token IS NOT NULL;

-- distribution_links (006) holds each recipient's token and rendered target;
-- pinned here to its distribution and recipient within the same tenant.
ALTER TABLE distribution_links
  ADD FOREIGN KEY (tenant_id, distribution_id) REFERENCES distributions (tenant_id, id),
  ADD FOREIGN KEY (tenant_id, recipient_id) REFERENCES distribution_recipients (tenant_id, id);
-- One link per recipient; also how the funnel finds a recipient's clicks.
CREATE UNIQUE INDEX distribution_links_recipient_idx ON distribution_links (tenant_id, recipient_id);

-- Whether a local time is inside a send window [start, end): an end before
-- the start spans midnight (22:00-06:00 holds 23:30 and 05:59, not 06:00).
-- NULL bounds: no window, always inside.
CREATE FUNCTION wagate_in_send_window(p_local time, p_start time, p_end time) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN p_start IS NULL OR p_end IS NULL THEN true
    WHEN p_start < p_end THEN p_local >= p_start AND p_local < p_end
    ELSE p_local >= p_start OR p_local < p_end
  END
$$;

-- Ends what has not gone of a distribution, for a cancel or an expiry:
-- every planned recipient becomes 'canceled' (error p_reason), and so does
-- every message of it that no sender has claimed yet ('accepted' or
-- 'retrying', no SID). The sender's claim only takes 'accepted' or
-- 'retrying' rows, under the same row lock, so a message is either claimed
-- (and goes out) or canceled here, never both. Returns how many recipients
-- and messages it canceled.
CREATE FUNCTION wagate_cancel_distribution_rest(p_tenant_id bigint, p_id uuid, p_reason text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_recipients int;
  v_messages int;
BEGIN
  UPDATE distribution_recipients SET status = 'canceled', error = p_reason
   WHERE tenant_id = p_tenant_id AND distribution_id = p_id AND status = 'planned';
  GET DIAGNOSTICS v_recipients = ROW_COUNT;
  UPDATE messages m SET
    status = 'canceled', status_rank = wagate_status_rank('canceled'),
    error_message = 'not sent: ' || p_reason,
    last_status_at = GREATEST(m.last_status_at, now()),
    next_attempt_at = NULL
   FROM distribution_recipients r
   WHERE r.tenant_id = p_tenant_id AND r.distribution_id = p_id AND r.status = 'queued'
     AND m.tenant_id = r.tenant_id AND m.id = r.message_id
     AND m.status IN ('accepted', 'retrying') AND m.message_sid IS NULL AND m.direction = 'outbound';
  GET DIAGNOSTICS v_messages = ROW_COUNT;
  RETURN v_recipients + v_messages;
END $$;
