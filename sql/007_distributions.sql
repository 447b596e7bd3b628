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
  CHECK ((body IS NULL) <> (content_sid IS NULL)),
  CHECK (content_variables IS NULL OR content_sid IS NOT NULL),
  CHECK ((window_start IS NULL) = (window_end IS NULL) AND (window_start IS NULL OR window_start <> window_end)),
  CHECK (expires_at IS NULL OR send_at IS NULL OR expires_at > send_at),
  UNIQUE (tenant_id, id)  -- target of the tenant-scoped foreign keys below
);
-- The list: a tenant's distributions newest first, paged on (created_at, id).
CREATE INDEX distributions_list_idx ON distributions (tenant_id, created_at DESC, id DESC);

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
