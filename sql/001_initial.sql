-- 001_initial.sql — tenants, API keys, messages (monthly partitions), status history, conversations, idempotency, campaigns.
--
-- Every table carries tenant_id and every query filters on it: tenants are
-- walls. Foreign keys pin each row to its tenant, and where a row refers to
-- another tenant-owned row the key includes tenant_id, so that a row of one
-- tenant cannot point at another's.
-- schema_migrations is not created here: the migration runner owns it.

CREATE TABLE tenants (
  tenant_id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  account_sid text NOT NULL UNIQUE CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
  -- AES-256-GCM (nonce || ciphertext || tag); the previous token stays valid
  -- for signature checks during a rotation.
  auth_token_enc bytea NOT NULL,
  auth_token_prev_enc bytea,
  whatsapp_from text,
  messaging_service_sid text,
  default_country_code text NOT NULL DEFAULT '1',
  monthly_quota bigint CHECK (monthly_quota >= 0),  -- NULL: unlimited
  rate_limit_mps int NOT NULL DEFAULT 80 CHECK (rate_limit_mps > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The secret part of a key is never stored: key_id is the public prefix the
-- caller sends along, key_hash the SHA-256 of the whole key.
CREATE TABLE api_keys (
  key_id text PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenants,
  key_hash bytea NOT NULL CHECK (length(key_hash) = 32),
  scopes text[] NOT NULL,
  label text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id);

-- A distribution: one request, many recipients; its progress is read from
-- the messages that carry its campaign_id.
CREATE TABLE campaigns (
  campaign_id bigserial PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenants,
  name text,
  client_ref text,
  body text,
  content_sid text,
  content_variables jsonb,
  media jsonb,
  recipient_count int NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, campaign_id)  -- target of the tenant-scoped foreign keys below
);

-- Both directions. Partitioned by month so that retention detaches or drops
-- whole partitions instead of deleting rows. The primary key must contain
-- the partition key, hence (tenant_id, created_at, id): a message is found
-- by id alone through messages_id_idx, by SID through message_index.
CREATE TABLE messages (
  tenant_id bigint NOT NULL REFERENCES tenants,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now(),
  direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  message_sid text,
  from_addr text,
  to_addr text,
  body text,
  content_sid text,
  content_variables jsonb,
  media jsonb CHECK (media IS NULL OR jsonb_typeof(media) = 'array'),  -- [{"url", "content_type"}]
  status text NOT NULL,
  -- Status only moves forward: a callback applies only when its rank is
  -- higher than the stored one (see wagate_status_rank in 002).
  status_rank smallint NOT NULL,
  error_code int,
  error_message text,
  campaign_id bigint,
  client_ref text,
  priority smallint NOT NULL DEFAULT 1,
  queued_at timestamptz,
  sent_at timestamptz,
  delivered_at timestamptz,
  read_at timestamptz,
  failed_at timestamptz,
  last_status_at timestamptz,
  delivery_ms bigint,
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  retry_of uuid,
  profile_name text,
  wa_id text,
  params jsonb,  -- inbound: every parameter Twilio posted
  PRIMARY KEY (tenant_id, created_at, id),
  FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, campaign_id)
) PARTITION BY RANGE (created_at);

CREATE INDEX messages_id_idx ON messages (id);
CREATE INDEX messages_sid_idx ON messages (tenant_id, message_sid);
CREATE INDEX messages_to_idx ON messages (tenant_id, to_addr, created_at DESC);
CREATE INDEX messages_from_idx ON messages (tenant_id, from_addr, created_at DESC);
CREATE INDEX messages_status_idx ON messages (tenant_id, status, created_at);
-- What the sender and reconciliation still have to act on; small, because
-- most messages leave these states within seconds.
CREATE INDEX messages_pending_idx ON messages (status, next_attempt_at)
  WHERE status IN ('accepted', 'unknown', 'retrying');

-- Rows whose month has no partition land here instead of failing: an insert
-- must never be refused for want of a partition. wagate_ensure_message_partitions
-- moves them out when their month's partition is created.
CREATE TABLE messages_default PARTITION OF messages DEFAULT;

-- Creates the monthly partitions messages_YYYY_MM (UTC months) for `months`
-- months from the month of from_month that do not exist yet; returns how many
-- it created. Safe to call repeatedly (the maintenance timer does).
CREATE FUNCTION wagate_ensure_message_partitions(from_month date, months int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_month date := date_trunc('month', from_month)::date;
  v_name text;
  v_from text;
  v_to text;
  v_created int := 0;
BEGIN
  FOR i IN 1 .. months LOOP
    v_name := 'messages_' || to_char(v_month, 'YYYY_MM');
    -- Bounds spelled in ISO with an explicit UTC offset, so that neither the
    -- session's TimeZone nor its DateStyle moves a month boundary.
    v_from := to_char(v_month, 'YYYY-MM-DD') || ' 00:00:00+00';
    v_to := to_char((v_month + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00';
    IF to_regclass(quote_ident(v_name)) IS NULL THEN
      IF EXISTS (SELECT 1 FROM messages_default
                  WHERE created_at >= v_from::timestamptz AND created_at < v_to::timestamptz) THEN
        -- The default partition already holds rows of this month, and a new
        -- partition cannot be created over them: build it beside, move the
        -- rows, then attach it.
        EXECUTE format('CREATE TABLE %I (LIKE messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', v_name);
        EXECUTE format('WITH moved AS (DELETE FROM messages_default WHERE created_at >= %L AND created_at < %L '
                       'RETURNING *) INSERT INTO %I SELECT * FROM moved', v_from, v_to, v_name);
        EXECUTE format('ALTER TABLE messages ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       v_name, v_from, v_to);
      ELSE
        EXECUTE format('CREATE TABLE %I PARTITION OF messages FOR VALUES FROM (%L) TO (%L)', v_name, v_from, v_to);
      END IF;
      v_created := v_created + 1;
    END IF;
    v_month := (v_month + interval '1 month')::date;
  END LOOP;
  RETURN v_created;
END $$;

-- Last month through three months ahead; the maintenance timer keeps
-- creating the months after.
SELECT wagate_ensure_message_partitions((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date, 5);

-- MessageSid -> its message row. A partitioned table cannot have a unique
-- index on message_sid alone, and a SID must be unique across all months:
-- inbound deduplication and callback lookup go through this table.
CREATE TABLE message_index (
  message_sid text PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenants,
  message_id uuid NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX message_index_created_idx ON message_index (created_at);  -- retention follows the partitions

-- Every status callback as it arrived, kept even when it does not move the
-- message (late or duplicate) and even before the message row exists (a
-- callback can beat the sender's commit): applied stays false until then.
-- Unique on (tenant_id, message_sid, status): a callback processed twice is
-- stored once, and one tenant's callbacks can never shadow another's.
CREATE TABLE status_events (
  event_id bigserial PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenants,
  message_sid text NOT NULL,
  status text NOT NULL,
  previous_status text,
  error_code int,
  error_message text,
  received_at timestamptz NOT NULL DEFAULT now(),
  applied boolean NOT NULL DEFAULT false,
  params jsonb,
  UNIQUE (tenant_id, message_sid, status)
);
CREATE INDEX status_events_unapplied_idx ON status_events (tenant_id, message_sid) WHERE NOT applied;
CREATE INDEX status_events_received_idx ON status_events (received_at);

-- Per tenant and phone: the 24-hour customer-service window (free-form
-- messages are allowed only inside it) and the opt-out state.
CREATE TABLE conversations (
  tenant_id bigint NOT NULL REFERENCES tenants,
  phone text NOT NULL,
  last_inbound_at timestamptz,
  window_expires_at timestamptz,
  opted_out boolean NOT NULL DEFAULT false,
  opted_out_at timestamptz,
  opted_in_at timestamptz,
  PRIMARY KEY (tenant_id, phone)
);

-- The history behind conversations.opted_out: who said STOP or START, when,
-- in which message.
CREATE TABLE contact_events (
  event_id bigserial PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenants,
  phone text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('opt_out', 'opt_in')),
  keyword text,
  message_sid text,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_events_phone_idx ON contact_events (tenant_id, phone, at);

-- A send retried with the same Idempotency-Key gets the first answer.
-- request_hash tells a retry from a different request reusing the key;
-- in_flight covers the time between claiming the key and committing the answer.
CREATE TABLE idempotency_keys (
  tenant_id bigint NOT NULL REFERENCES tenants,
  idem_key text NOT NULL,
  request_hash bytea NOT NULL,
  state text NOT NULL CHECK (state IN ('in_flight', 'done')),
  response_status int,
  response_body text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL DEFAULT now() + interval '24 hours',
  PRIMARY KEY (tenant_id, idem_key),
  CHECK (state = 'in_flight' OR response_status IS NOT NULL)  -- a finished key can replay its answer
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

CREATE TABLE campaign_recipients (
  tenant_id bigint NOT NULL REFERENCES tenants,
  campaign_id bigint NOT NULL,
  phone text NOT NULL,
  message_id uuid,  -- NULL until its message is created
  PRIMARY KEY (campaign_id, phone),
  FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, campaign_id)
);
