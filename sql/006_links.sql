-- 006_links.sql — tracked links of distributions: one row per recipient's link, counted where it is clicked.
--
-- GET /l/<token> (wagate-links) redirects to target_url and counts the
-- visit on the link's own row, in one statement (wagate_record_click): a
-- click touches one row of one recipient, never a shared counter, so clicks
-- of different recipients never wait for each other. The funnel's "clicked"
-- is the number of a distribution's recipients whose link has clicks > 0.
-- Previews (link-preview agents, HEAD) are counted apart and leave the click
-- times alone: WhatsApp fetches every link it shows, clicked or not.
--
-- Rows are written by the distribution's creation (007 adds the foreign keys
-- to distributions and recipients). The token is the only key a visitor
-- holds: 22 base64url characters (128 random bits), unguessable.
CREATE TABLE distribution_links (
  token text PRIMARY KEY,
  tenant_id bigint NOT NULL,
  distribution_id uuid NOT NULL,
  recipient_id bigint NOT NULL,
  target_url text NOT NULL,
  clicks integer NOT NULL DEFAULT 0,
  previews integer NOT NULL DEFAULT 0,
  first_click_at timestamptz,
  last_click_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One visit of a link: the target to redirect to, or NULL when no link has
-- this token. p_preview counts a preview instead of a click. One UPDATE, so
-- the count and the answer come from the same row version; the counters
-- saturate instead of failing, so a link clicked two billion times still
-- redirects.
CREATE FUNCTION wagate_record_click(p_token text, p_preview boolean) RETURNS text
LANGUAGE sql AS $$
  UPDATE distribution_links
     SET clicks = CASE WHEN p_preview OR clicks = 2147483647 THEN clicks ELSE clicks + 1 END,
         previews = CASE WHEN NOT p_preview OR previews = 2147483647 THEN previews ELSE previews + 1 END,
         first_click_at = CASE WHEN p_preview THEN first_click_at ELSE coalesce(first_click_at, now()) END,
         last_click_at = CASE WHEN p_preview THEN last_click_at ELSE now() END
   WHERE token = p_token
  RETURNING target_url
$$;
