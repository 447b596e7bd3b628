"""webhooks_test.py — Twilio's two webhooks through nginx: signatures, bad input, dedup, forward-only, rotation.

Run by webhooks_test.sh against a stack it brought up (WAGATE_RUN_DIR set).
"""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from twilio_client import Gateway, new_sid, psql, signature, stack_env  # noqa: E402

STATUS = "/api/v1/whatsapp/status"
INBOUND = "/api/v1/whatsapp/webhook"
ENV = stack_env()
GW = Gateway(ENV)
DSN = ENV["WAGATE_PG_DSN"]
ACCOUNT = ENV["TWILIO_ACCOUNT_SID"]
ADMIN = [os.path.join(os.environ["WAGATE_BUILD_DIR"], "bin", "wagate-admin"), "--config", ENV["WAGATE_CONFIG"]]
TENANT_CACHE_S = 6  # handlers cache a tenant's tokens for 5 s


def status_params(sid, status, **extra):
    params = [("AccountSid", ACCOUNT), ("ApiVersion", "2010-04-01"), ("ChannelPrefix", "whatsapp"),
              ("From", "whatsapp:+14155238886"), ("MessageSid", sid), ("MessageStatus", status),
              ("SmsSid", sid), ("SmsStatus", status), ("To", "whatsapp:+15005550006")]
    params += list(extra.items())
    return params


def post_status(sid, status, **extra):
    return GW.post_signed(STATUS, status_params(sid, status, **extra))


def events(sid):
    return psql(DSN, f"SELECT status, coalesce(previous_status, '-'), applied FROM status_events "
                     f"WHERE message_sid = '{sid}' ORDER BY event_id")


def tenant_id():
    return psql(DSN, f"SELECT tenant_id FROM tenants WHERE account_sid = '{ACCOUNT}'")


def make_outbound_message(sid=None):
    """An outbound message as the sender leaves it once Twilio answered 201."""
    msg_id = psql(DSN, "SELECT gen_random_uuid()")
    tid = tenant_id()
    psql(DSN, f"INSERT INTO messages (tenant_id, id, created_at, direction, from_addr, to_addr, body, status, "
              f"status_rank) VALUES ({tid}, '{msg_id}', now(), 'outbound', 'whatsapp:+14155238886', "
              f"'whatsapp:+15005550006', 'hi', 'accepted', wagate_status_rank('accepted'))")
    if sid:
        attach_sid(msg_id, sid)
    return msg_id


def attach_sid(msg_id, sid):
    tid = tenant_id()
    psql(DSN, f"BEGIN; UPDATE messages SET message_sid = '{sid}', status = 'queued', "
              f"status_rank = wagate_status_rank('queued') WHERE id = '{msg_id}'; "
              f"INSERT INTO message_index (message_sid, tenant_id, message_id, created_at) "
              f"SELECT '{sid}', {tid}, id, created_at FROM messages WHERE id = '{msg_id}'; COMMIT;")


def message(msg_id, columns="status"):
    return psql(DSN, f"SELECT {columns} FROM messages WHERE id = '{msg_id}'")


class Signatures(unittest.TestCase):
    def test_signed_callback_is_stored(self):
        sid = new_sid()
        status, headers, body = post_status(sid, "sent")
        self.assertEqual(status, 200, body)
        self.assertEqual(events(sid), "sent|-|f")

    def test_missing_signature_is_400_and_stores_nothing(self):
        sid = new_sid()
        status, _, body = GW.post_signed(STATUS, status_params(sid, "sent"), sign=False)
        self.assertEqual(status, 400)
        self.assertIn(b"missing_signature", body)
        self.assertEqual(events(sid), "")

    def test_wrong_signature_is_403(self):
        sid = new_sid()
        status, _, body = GW.post_signed(STATUS, status_params(sid, "sent"), token="not-the-token")
        self.assertEqual(status, 403)
        self.assertIn(b"invalid_signature", body)
        self.assertEqual(events(sid), "")

    def test_signature_over_other_url_is_403(self):
        sid = new_sid()
        status, _, _ = GW.post_signed(STATUS, status_params(sid, "sent"), url=GW.base + "/other")
        self.assertEqual(status, 403)

    def test_unknown_account_is_403(self):
        params = [(k, "AC" + "0" * 32 if k == "AccountSid" else v) for k, v in status_params(new_sid(), "sent")]
        status, _, body = GW.post_signed(STATUS, params)
        self.assertEqual(status, 403)
        self.assertIn(b"unknown_account", body)

    def test_signed_without_default_port_variants(self):
        # Twilio signs some requests with the port and some without: the URL
        # without its port must validate too.
        sid = new_sid()
        url = GW.base.rsplit(":", 1)[0] + STATUS
        status, _, body = GW.post_signed(STATUS, status_params(sid, "sent"), url=url)
        self.assertEqual(status, 200, body)


class BadInput(unittest.TestCase):
    def test_wrong_content_type_is_415(self):
        status, _, body = GW.request("POST", STATUS, b'{"MessageSid": "x"}',
                                     {"Content-Type": "application/json", "X-Twilio-Signature": "x"})
        self.assertEqual(status, 415)
        self.assertIn(b"unsupported_media_type", body)

    def test_missing_message_sid_is_400(self):
        params = [p for p in status_params(new_sid(), "sent") if p[0] != "MessageSid"]
        status, _, body = GW.post_signed(STATUS, params)
        self.assertEqual(status, 400)
        self.assertIn(b"MessageSid", body)

    def test_missing_message_status_is_400(self):
        sid = new_sid()
        params = [p for p in status_params(sid, "sent") if p[0] != "MessageStatus"]
        status, _, body = GW.post_signed(STATUS, params)
        self.assertEqual(status, 400)
        self.assertIn(b"MessageStatus", body)
        self.assertEqual(events(sid), "")

    def test_malformed_body_is_400(self):
        status, _, body = GW.request("POST", STATUS, b"AccountSid=%zz",
                                     {"Content-Type": "application/x-www-form-urlencoded",
                                      "X-Twilio-Signature": "x"})
        self.assertEqual(status, 400)
        self.assertIn(b"malformed_body", body)

    def test_invalid_utf8_is_400_once_signed(self):
        sid = new_sid()
        status, _, body = post_status(sid, "sent", Body="\udcc3(")  # the bytes C3 28: not UTF-8
        self.assertEqual(status, 400)
        self.assertIn(b"invalid_utf8", body)
        self.assertIn(b"Body", body)
        self.assertEqual(events(sid), "")
        # Without a valid signature the content is not looked at: 403.
        status, _, _ = GW.request("POST", STATUS, b"AccountSid=" + ACCOUNT.encode() + b"&Body=%C3%28",
                                  {"Content-Type": "application/x-www-form-urlencoded",
                                   "X-Twilio-Signature": "x"})
        self.assertEqual(status, 403)

    def test_body_over_limit_is_413(self):
        status, _, body = GW.request("POST", STATUS, b"Body=" + b"x" * 200000,
                                     {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 413)
        self.assertIn(b"error", body)

    def test_bad_error_code_is_400_and_stores_nothing(self):
        sid = new_sid()
        status, _, body = post_status(sid, "failed", ErrorCode="63016x")
        self.assertEqual(status, 400)
        self.assertEqual(events(sid), "")

    def test_wrong_method_is_405(self):
        status, headers, _ = GW.request("GET", STATUS)
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("Allow"), "POST")


class ForwardOnly(unittest.TestCase):
    def test_duplicate_is_200_and_changes_nothing(self):
        sid = new_sid()
        msg = make_outbound_message(sid)
        self.assertEqual(post_status(sid, "delivered")[0], 200)
        first = message(msg, "delivered_at")
        self.assertEqual(post_status(sid, "delivered")[0], 200)
        self.assertEqual(events(sid), "delivered|queued|t")
        self.assertEqual(message(msg, "delivered_at"), first)

    def test_late_sent_does_not_undo_delivered(self):
        sid = new_sid()
        msg = make_outbound_message(sid)
        post_status(sid, "delivered")
        post_status(sid, "sent")
        self.assertEqual(message(msg), "delivered")
        self.assertEqual(events(sid), "delivered|queued|t\nsent|delivered|t")
        self.assertEqual(message(msg, "sent_at IS NOT NULL AND delivered_at IS NOT NULL AND delivery_ms >= 0"), "t")

    def test_late_sent_does_not_undo_failed(self):
        sid = new_sid()
        msg = make_outbound_message(sid)
        post_status(sid, "failed", ErrorCode="63016", ErrorMessage="outside window")
        post_status(sid, "sent")
        self.assertEqual(message(msg, "status || '|' || error_code"), "failed|63016")

    def test_read_after_delivered_and_late_delivered(self):
        sid = new_sid()
        msg = make_outbound_message(sid)
        post_status(sid, "read")
        post_status(sid, "delivered")
        self.assertEqual(message(msg), "read")
        self.assertEqual(message(msg, "read_at IS NOT NULL AND delivered_at IS NOT NULL"), "t")

    def test_undelivered_and_failed_both_kept(self):
        sid = new_sid()
        msg = make_outbound_message(sid)
        post_status(sid, "undelivered", ErrorCode="30003")
        post_status(sid, "failed", ErrorCode="30003")
        self.assertEqual(message(msg), "failed")
        self.assertEqual(events(sid), "undelivered|queued|t\nfailed|undelivered|t")

    def test_unknown_future_status_is_kept_and_moves_nothing(self):
        sid = new_sid()
        msg = make_outbound_message(sid)
        post_status(sid, "sent")
        self.assertEqual(post_status(sid, "teleported")[0], 200)
        self.assertEqual(message(msg), "sent")
        self.assertIn("teleported|sent|t", events(sid))

    def test_every_protocol_status_is_accepted(self):
        for status in ["accepted", "scheduled", "queued", "sending", "sent", "delivered", "read", "undelivered",
                       "failed", "canceled", "partially_delivered", "receiving", "received"]:
            self.assertEqual(post_status(new_sid(), status)[0], 200, status)

    def test_callback_before_sid_is_known_applies_later(self):
        sid = new_sid()
        msg = make_outbound_message()
        post_status(sid, "sent")
        post_status(sid, "delivered")
        self.assertEqual(events(sid), "sent|-|f\ndelivered|-|f")
        attach_sid(msg, sid)
        self.assertEqual(message(msg), "delivered")
        self.assertEqual(events(sid), "sent|queued|t\ndelivered|sent|t")

    def test_other_tenants_callback_cannot_touch_message(self):
        other_sid = "AC" + os.urandom(16).hex()
        token_file = os.path.join(os.environ["WAGATE_RUN_DIR"], "other.token")
        with open(token_file, "w") as f:
            f.write("other-tenant-token\n")
        subprocess.run(ADMIN + ["tenant", "add", "--name", "other-" + other_sid[-6:], "--account-sid", other_sid,
                                "--auth-token-file", token_file], check=True, capture_output=True)
        sid = new_sid()
        msg = make_outbound_message(sid)
        params = [(k, other_sid if k == "AccountSid" else v) for k, v in status_params(sid, "read")]
        status, _, _ = GW.post_signed(STATUS, params, token="other-tenant-token")
        self.assertEqual(status, 200)  # stored for the other tenant...
        self.assertEqual(message(msg), "queued")  # ...but it moves nothing of ours
        self.assertEqual(post_status(sid, "read")[0], 200)  # and does not block our own read
        self.assertEqual(message(msg), "read")


class Inbound(unittest.TestCase):
    def inbound(self, body, sid=None, phone="+15551230001", **extra):
        sid = sid or new_sid()
        params = [("AccountSid", ACCOUNT), ("ApiVersion", "2010-04-01"), ("Body", body),
                  ("From", "whatsapp:" + phone), ("MessageSid", sid), ("NumMedia", "0"),
                  ("ProfileName", "Ana"), ("SmsMessageSid", sid), ("SmsSid", sid), ("SmsStatus", "received"),
                  ("To", "whatsapp:+14155238886"), ("WaId", phone[1:])]
        params = [p for p in params if p[0] not in extra] + list(extra.items())
        return sid, GW.post_signed(INBOUND, params)

    def test_stored_with_fields_and_twiml_answer(self):
        sid, (status, headers, body) = self.inbound(
            "hello", NumMedia="1", MediaUrl0="https://example.com/a.jpg", MediaContentType0="image/jpeg",
            ButtonText="Yes", ButtonPayload="yes-1", Latitude="1.5", Longitude="2.5",
            OriginalRepliedMessageSid="SM" + "a" * 32, ReferralSourceUrl="https://ad", NewFutureParam="kept")
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["Content-Type"].startswith("text/xml"))
        self.assertIn(b"<Response/>", body)
        row = psql(DSN, f"SELECT direction, status, from_addr, body, profile_name, wa_id, media->0->>'url', "
                        f"details->>'button_payload', details->>'latitude', details->>'replied_to_sid', "
                        f"details->'referral'->>'ReferralSourceUrl', params->>'NewFutureParam' "
                        f"FROM messages WHERE message_sid = '{sid}'")
        self.assertEqual(row, "inbound|received|whatsapp:+15551230001|hello|Ana|15551230001|"
                              "https://example.com/a.jpg|yes-1|1.5|" + "SM" + "a" * 32 + "|https://ad|kept")

    def test_duplicate_is_stored_once(self):
        sid, (status, _, _) = self.inbound("once")
        self.assertEqual(status, 200)
        _, (status, _, _) = self.inbound("once", sid=sid)
        self.assertEqual(status, 200)
        self.assertEqual(psql(DSN, f"SELECT count(*) FROM messages WHERE message_sid = '{sid}'"), "1")

    def test_window_opens_for_24_hours(self):
        phone = "+1555" + str(int(time.time() * 1000))[-7:]
        self.inbound("hi", phone=phone)
        self.assertEqual(psql(DSN, f"SELECT window_expires_at - last_inbound_at FROM conversations "
                                   f"WHERE phone = '{phone}'"), "1 day")

    def test_stop_opts_out_and_start_opts_back_in(self):
        phone = "+1556" + str(int(time.time() * 1000))[-7:]
        self.inbound("  stop ", phone=phone)
        self.assertEqual(psql(DSN, f"SELECT opted_out FROM conversations WHERE phone = '{phone}'"), "t")
        self.inbound("START", phone=phone)
        self.assertEqual(psql(DSN, f"SELECT opted_out FROM conversations WHERE phone = '{phone}'"), "f")
        self.assertEqual(psql(DSN, f"SELECT string_agg(kind || ':' || keyword, ',' ORDER BY event_id) "
                                   f"FROM contact_events WHERE phone = '{phone}'"), "opt_out:STOP,opt_in:START")

    def test_missing_from_is_400(self):
        sid = new_sid()
        params = [("AccountSid", ACCOUNT), ("Body", "x"), ("MessageSid", sid), ("To", "whatsapp:+1")]
        status, _, body = GW.post_signed(INBOUND, params)
        self.assertEqual(status, 400)
        self.assertIn(b"From", body)


class Rotation(unittest.TestCase):
    def test_previous_token_accepted_until_dropped(self):
        old = ENV["TWILIO_AUTH_TOKEN"]
        new = "rotated-" + os.urandom(8).hex()
        token_file = os.path.join(os.environ["WAGATE_RUN_DIR"], "rotated.token")
        with open(token_file, "w") as f:
            f.write(new + "\n")
        name = psql(DSN, f"SELECT name FROM tenants WHERE account_sid = '{ACCOUNT}'")
        subprocess.run(ADMIN + ["tenant", "set-token", name, "--auth-token-file", token_file], check=True)
        try:
            time.sleep(TENANT_CACHE_S)
            self.assertEqual(GW.post_signed(STATUS, status_params(new_sid(), "sent"), token=new)[0], 200)
            self.assertEqual(GW.post_signed(STATUS, status_params(new_sid(), "sent"), token=old)[0], 200)
            subprocess.run(ADMIN + ["tenant", "drop-previous-token", name], check=True)
            time.sleep(TENANT_CACHE_S)
            self.assertEqual(GW.post_signed(STATUS, status_params(new_sid(), "sent"), token=old)[0], 403)
            self.assertEqual(GW.post_signed(STATUS, status_params(new_sid(), "sent"), token=new)[0], 200)
        finally:
            with open(token_file, "w") as f:
                f.write(old + "\n")
            subprocess.run(ADMIN + ["tenant", "set-token", name, "--auth-token-file", token_file], check=True)
            subprocess.run(ADMIN + ["tenant", "drop-previous-token", name], check=True)
            time.sleep(TENANT_CACHE_S)

    def test_tokens_are_not_stored_in_plain_text(self):
        token = ENV["TWILIO_AUTH_TOKEN"]
        dump = psql(DSN, "SELECT encode(auth_token_enc, 'escape') FROM tenants")
        self.assertNotIn(token, dump)


if __name__ == "__main__":
    unittest.main(verbosity=2)
