-- 009_message_prices.sql — Twilio's price of each final outbound message, and the index the price job reads.
--
-- On the messages themselves rather than a side table: the columns follow
-- the monthly partitions, so retention archives and drops prices with their
-- messages and a distribution's cost is one join it already makes. Adding
-- nullable columns without a default only changes the catalogue.
--
-- price: as Twilio writes it, negative for a charge ("-0.00500"); zero when
-- Twilio charged nothing. price_unit: ISO 4217 ("USD").
-- priced_at: when the price job was done with the message: it stored the
-- price, or it gave up (price stays NULL) because Twilio had not priced it
-- within price_give_up_hours of its final status.
-- price_checked_at: the job's last question to Twilio, for the recheck
-- interval (price_recheck_seconds) while Twilio has no price yet.
ALTER TABLE messages
  ADD COLUMN price numeric,
  ADD COLUMN price_unit text,
  ADD COLUMN priced_at timestamptz,
  ADD COLUMN price_checked_at timestamptz;

-- Final outbound messages the price job has still to do: small, because a
-- message leaves it once priced (usually within minutes) or given up.
CREATE INDEX messages_unpriced_idx ON messages (tenant_id, price_checked_at NULLS FIRST, created_at)
  WHERE priced_at IS NULL AND direction = 'outbound' AND message_sid IS NOT NULL
    AND status IN ('delivered', 'read', 'undelivered', 'failed');

-- The tenant's recent prices, newest first, for a distribution's estimate
-- (the average of the last priced messages): read a bounded number of
-- entries instead of a month of the tenant's messages.
CREATE INDEX messages_priced_idx ON messages (tenant_id, created_at DESC) INCLUDE (price, price_unit)
  WHERE price IS NOT NULL;
