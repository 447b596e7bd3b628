"""send_api_test.py — POST /api/v1/whatsapp/send through nginx: keys, validation, WhatsApp rules, idempotency, queue.

Run by send_api_test.sh against a stack it brought up (WAGATE_RUN_DIR set). The
RedisOutage class runs only when SEND_TEST_REDIS_STOPPED=1 (the script stops
Redis first).
"""
import base64
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from twilio_client import (LOCAL_SENDER as SENDER, Gateway, add_tenant, admin, new_phone,  # noqa: E402
                           new_sid, psql, stack_env, tenant_id)

SEND = "/api/v1/whatsapp/send"
INBOUND = "/api/v1/whatsapp/webhook"
ENV = stack_env()
GW = Gateway(ENV)
DSN = ENV["WAGATE_PG_DSN"]
KEY = ENV["WAGATE_API_KEY"]
ACCOUNT = ENV["TWILIO_ACCOUNT_SID"]
KEY_CACHE_S = 5  # api_key_cache_seconds default
KEY_RE = re.compile(r"^wg_[a-z2-7]{12}_[A-Za-z0-9_-]{43}$")


def template():
    return "HX" + os.urandom(16).hex()


def send(payload=None, key=KEY, headers=None, content_type="application/json", raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    hdrs = {}
    if content_type:
        hdrs["Content-Type"] = content_type
    if key is not None:
        hdrs["Authorization"] = "Bearer " + key
    hdrs.update(headers or {})
    status, resp_headers, resp_body = GW.request("POST", SEND, body, hdrs)
    try:
        data = json.loads(resp_body) if resp_body else None
    except ValueError:
        data = {"raw": resp_body.decode(errors="replace")}
    return status, {k.lower(): v for k, v in resp_headers.items()}, data


def open_window(phone, tenant="local", minutes=60):
    psql(DSN, f"INSERT INTO conversations (tenant_id, phone, last_inbound_at, window_expires_at) "
              f"VALUES ({tenant_id(DSN, tenant)}, '{phone}', now(), now() + interval '{minutes} minutes') "
              f"ON CONFLICT (tenant_id, phone) DO UPDATE SET window_expires_at = EXCLUDED.window_expires_at")


def post_inbound(phone, body="hello"):
    sid = new_sid()
    params = [("AccountSid", ACCOUNT), ("ApiVersion", "2010-04-01"), ("Body", body),
              ("From", "whatsapp:" + phone), ("MessageSid", sid), ("NumMedia", "0"), ("ProfileName", "Ana"),
              ("SmsMessageSid", sid), ("SmsSid", sid), ("SmsStatus", "received"), ("To", SENDER),
              ("WaId", phone[1:])]
    return GW.post_signed(INBOUND, params)


def count_messages(client_ref):
    return int(psql(DSN, f"SELECT count(*) FROM messages WHERE client_ref = '{client_ref}'"))


def error_of(data):
    return (data or {}).get("error", {})


def unknown_key():
    """Well formed, never issued."""
    key_id = "".join(random.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(12))
    return "wg_" + key_id + "_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


OTHER = {}


def setUpModule():
    # A second tenant with its own key: tenants are walls.
    name = add_tenant(ENV, "other")
    OTHER["name"] = name
    OTHER["key"] = admin(ENV, "key", "create", "--tenant", name, "--scopes", "send").stdout.strip()


class AdminKeys(unittest.TestCase):
    def test_create_prints_only_the_key_and_stores_only_its_hash(self):
        out = admin(ENV, "key", "create", "--tenant", "local", "--scopes", "read", "--label", "ci")
        self.assertRegex(out.stdout, KEY_RE.pattern[:-1] + r"\n$")
        key = out.stdout.strip()
        key_id = key[3:15]
        self.assertIn(key_id, out.stderr)
        self.assertNotIn(key[16:], out.stderr)
        row = psql(DSN, f"SELECT encode(key_hash, 'hex'), array_to_string(scopes, ','), label FROM api_keys "
                        f"WHERE key_id = '{key_id}'")
        self.assertEqual(row, f"{hashlib.sha256(key.encode()).hexdigest()}|read|ci")
        listing = admin(ENV, "key", "list", "--tenant", "local").stdout
        self.assertIn(key_id, listing)
        self.assertNotIn(key[16:], listing)

    def test_default_scopes_are_send_and_read(self):
        key = admin(ENV, "key", "create", "--tenant", "local").stdout.strip()
        self.assertEqual(psql(DSN, f"SELECT array_to_string(scopes, ',') FROM api_keys WHERE key_id = '{key[3:15]}'"),
                         "send,read")

    def test_create_refuses_unknown_tenant_and_scope(self):
        out = admin(ENV, "key", "create", "--tenant", "no-such-tenant", check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertEqual(out.stdout, "")
        self.assertIn("no-such-tenant", out.stderr)
        out = admin(ENV, "key", "create", "--tenant", "local", "--scopes", "send,write", check=False)
        self.assertEqual(out.returncode, 2)
        self.assertEqual(out.stdout, "")
        self.assertIn("write", out.stderr)

    def test_revoke_unknown_key_fails(self):
        out = admin(ENV, "key", "revoke", "abcdefghijkl", check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("abcdefghijkl", out.stderr)


class Auth(unittest.TestCase):
    def payload(self):
        return {"to": new_phone(), "content_sid": template()}

    def assert_unauthorized(self, status, headers, data, message_part=None):
        self.assertEqual(status, 401, data)
        self.assertEqual(error_of(data).get("code"), "unauthorized", data)
        self.assertTrue(headers.get("www-authenticate", "").startswith("Bearer"), headers)
        if message_part:
            self.assertIn(message_part, error_of(data).get("message", ""))

    def test_missing_key(self):
        self.assert_unauthorized(*send(self.payload(), key=None), "missing")

    def test_other_scheme_or_garbage(self):
        self.assert_unauthorized(*send(self.payload(), key=None, headers={"Authorization": "Basic dTpw"}))
        self.assert_unauthorized(*send(self.payload(), key="not-a-key"))
        self.assert_unauthorized(*send(self.payload(), key=KEY + "x"))

    def test_unknown_key_and_wrong_secret(self):
        self.assert_unauthorized(*send(self.payload(), key=unknown_key()))
        forged = KEY[:16] + unknown_key()[16:]
        self.assert_unauthorized(*send(self.payload(), key=forged), "invalid")

    def test_key_without_send_scope_is_forbidden(self):
        key = admin(ENV, "key", "create", "--tenant", "local", "--scopes", "read").stdout.strip()
        status, _, data = send(self.payload(), key=key)
        self.assertEqual(status, 403, data)
        self.assertEqual(error_of(data).get("code"), "forbidden")
        self.assertIn("'send'", error_of(data).get("message", ""))

    def test_revoked_key_stops_working_within_the_cache_time(self):
        key = admin(ENV, "key", "create", "--tenant", "local", "--scopes", "send").stdout.strip()
        status, _, data = send(self.payload(), key=key)
        self.assertEqual(status, 202, data)
        out = admin(ENV, "key", "revoke", key[3:15])
        self.assertIn("revoked", out.stdout)
        time.sleep(KEY_CACHE_S + 1)
        # Every handler process (and thread) has let go of its cached copy by now.
        for _ in range(6):
            self.assert_unauthorized(*send(self.payload(), key=key), "revoked")
        self.assertNotEqual(psql(DSN, f"SELECT revoked_at FROM api_keys WHERE key_id = '{key[3:15]}'"), "")
        self.assertIn("already revoked", admin(ENV, "key", "revoke", key[3:15]).stdout)

    def test_health_needs_no_key(self):
        # The stack under test is up: every check passes.
        status, _, body = GW.request("GET", "/api/v1/health")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["status"], "ok", body)

    def test_placeholder_amplification_is_refused_as_too_long(self):
        # 5,000 placeholders of a 30 kB variable would render 150 MB; it is
        # refused like any body over 1,600 characters, and several at once
        # leave the handler answering.
        payload = {"to": new_phone(), "body": "{{a}}" * 5000, "variables": {"a": "x" * 30000}}
        results = []

        def one():
            results.append(send(payload))

        threads = [threading.Thread(target=one) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(results), 16)
        for status, _, data in results:
            self.assertEqual(status, 400, data)
            self.assertEqual(data["error"]["code"], "invalid_field", data)
            self.assertEqual(data["error"]["field"], "body", data)
            self.assertIn("longer than 1600 characters after variable substitution", data["error"]["message"])
        status, _, _ = GW.request("GET", "/api/v1/health")
        self.assertEqual(status, 200)


class Validation(unittest.TestCase):
    def assert_error(self, result, status, code, field=None, message_part=None):
        got_status, _, data = result
        self.assertEqual(got_status, status, data)
        err = error_of(data)
        self.assertEqual(err.get("code"), code, data)
        if field is not None:
            self.assertEqual(err.get("field"), field, data)
        if message_part:
            self.assertIn(message_part, err.get("message", ""), data)

    def test_content_type_must_be_json(self):
        self.assert_error(send(raw=b'{"to":"+14155550123","body":"x"}', content_type="text/plain"), 415,
                          "unsupported_media_type")
        self.assert_error(send(raw=b"to=x", content_type="application/x-www-form-urlencoded"), 415,
                          "unsupported_media_type")

    def test_invalid_json_says_where(self):
        self.assert_error(send(raw=b'{"to": "+14155550123",\n "body": }'), 400, "invalid_json",
                          message_part="line 2")
        self.assert_error(send(raw=b""), 400, "invalid_json")
        self.assert_error(send(raw=b"[]"), 400, "invalid_json")

    def test_each_bad_field_is_named(self):
        phone = new_phone()
        cases = [
            ({"body": "x"}, "to"),
            ({"to": 15551234567, "body": "x"}, "to"),
            ({"to": phone, "body": "x", "from": SENDER}, "from"),
            ({"to": phone, "body": ""}, "body"),
            ({"to": phone, "body": 1}, "body"),
            ({"to": phone}, "body"),
            ({"to": phone, "body": "x" * 1601}, "body"),
            ({"to": phone, "body": "Hi {{name}}"}, "variables"),
            ({"to": phone, "body": "Hi {{name}}", "variables": {"name": 3}}, "variables.name"),
            ({"to": phone, "body": "x", "content_sid": template()}, "content_sid"),
            ({"to": phone, "content_sid": "HX123"}, "content_sid"),
            ({"to": phone, "content_sid": template(), "content_variables": ["a"]}, "content_variables"),
            ({"to": phone, "body": "x", "media_url": ["http://example.com/a.png"]}, "media_url[0]"),
            ({"to": phone, "body": "x", "media_url": ["https://example.com/a.png"] * 11}, "media_url"),
            ({"to": phone, "body": "x", "priority": "urgent"}, "priority"),
            ({"to": phone, "body": "x", "client_ref": "r" * 129}, "client_ref"),
        ]
        for payload, field in cases:
            with self.subTest(payload=payload):
                self.assert_error(send(payload), 400, "invalid_field", field)

    def test_invalid_phone_says_why(self):
        for to, why in [("+1 415 CALL NOW", "letters"), ("+1555", "too short"), ("+1234567890123456", "too long"),
                        ("", "empty"), ("whatsapp:", "empty"), ("+1/415/5550123", "'/'")]:
            with self.subTest(to=to):
                self.assert_error(send({"to": to, "content_sid": template()}), 400, "invalid_phone", "to", why)

    def test_bad_idempotency_key(self):
        payload = {"to": new_phone(), "content_sid": template()}
        self.assert_error(send(payload, headers={"Idempotency-Key": "k" * 256}), 400, "invalid_idempotency_key",
                          "Idempotency-Key", "255")
        self.assert_error(send(payload, headers={"Idempotency-Key": "a", "X-Idempotency-Key": "b"}), 400,
                          "invalid_idempotency_key")

    def test_rejected_request_stores_nothing(self):
        ref = "bad-" + os.urandom(4).hex()
        send({"to": "+1555", "body": "x", "client_ref": ref})
        self.assertEqual(count_messages(ref), 0)


class WhatsAppRules(unittest.TestCase):
    def test_free_form_outside_window_is_refused_and_not_stored(self):
        phone = new_phone()
        ref = "out-" + os.urandom(4).hex()
        for payload in ({"to": phone, "body": "hi", "client_ref": ref},
                        {"to": phone, "media_url": ["https://example.com/a.png"], "client_ref": ref}):
            status, _, data = send(payload)
            self.assertEqual(status, 422, data)
            self.assertEqual(error_of(data)["code"], "outside_session_window")
            self.assertIn("content_sid", error_of(data)["message"])
        self.assertEqual(count_messages(ref), 0)

    def test_expired_window_is_outside(self):
        phone = new_phone()
        open_window(phone, minutes=-1)
        status, _, data = send({"to": phone, "body": "hi"})
        self.assertEqual(status, 422, data)
        self.assertEqual(error_of(data)["code"], "outside_session_window")

    def test_inbound_message_opens_the_window_and_the_message_is_recorded_and_queued(self):
        phone = new_phone()
        status, _, body = post_inbound(phone)
        self.assertEqual(status, 200, body)
        ref = "in-" + os.urandom(4).hex()
        # National spelling: the local tenant's default country code is 1.
        national = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
        status, headers, data = send({"to": national, "body": "Hi {{name}}", "variables": {"name": "Ana"},
                                      "priority": "high", "client_ref": ref})
        self.assertEqual(status, 202, data)
        self.assertEqual(data["status"], "accepted")
        self.assertEqual(data["to"], "whatsapp:" + phone)
        self.assertRegex(data["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual(headers["location"], "/api/v1/whatsapp/messages/" + data["id"])
        self.assertNotIn("idempotent-replayed", headers)
        # Committed before the answer: the row is there at once.
        row = psql(DSN, f"SELECT direction, to_addr, from_addr, body, priority, client_ref, tenant_id, "
                        f"content_sid IS NULL FROM messages WHERE id = '{data['id']}'")
        self.assertEqual(row, f"outbound|whatsapp:{phone}|{SENDER}|Hi Ana|2|{ref}|{tenant_id(DSN, 'local')}|t")
        # Queued after the commit, unless a running sender has taken it already.
        queue = subprocess.run(["redis-cli", "-u", ENV["WAGATE_REDIS_URL"], "XRANGE", "wagate:send:high", "-", "+"],
                               capture_output=True, text=True).stdout
        status_now = psql(DSN, f"SELECT status FROM messages WHERE id = '{data['id']}'")
        self.assertTrue(data["id"] in queue or status_now != "accepted", (queue[-500:], status_now))
        if status_now == "accepted":
            self.assertEqual(psql(DSN, f"SELECT status_rank, attempts, "
                                       f"extract(epoch FROM next_attempt_at - created_at)::int "
                                       f"FROM messages WHERE id = '{data['id']}'"), "10|0|10")

    def test_template_is_allowed_outside_the_window(self):
        sid = template()
        status, _, data = send({"to": new_phone(), "content_sid": sid, "content_variables": {"1": "Ana"}})
        self.assertEqual(status, 202, data)
        row = psql(DSN, f"SELECT content_sid, content_variables->>'1', body IS NULL, priority FROM messages "
                        f"WHERE id = '{data['id']}'")
        self.assertEqual(row, f"{sid}|Ana|t|1")

    def test_media_is_stored_as_urls(self):
        phone = new_phone()
        open_window(phone)
        status, _, data = send({"to": phone, "body": "look", "media_url": ["https://example.com/a.png",
                                                                           "https://example.com/b.pdf"]})
        self.assertEqual(status, 202, data)
        self.assertEqual(psql(DSN, f"SELECT media->0->>'url', media->1->>'url', jsonb_array_length(media) "
                                   f"FROM messages WHERE id = '{data['id']}'"),
                         "https://example.com/a.png|https://example.com/b.pdf|2")

    def test_opted_out_recipient_gets_nothing_not_even_templates(self):
        phone = new_phone()
        status, _, _ = post_inbound(phone, "STOP")
        self.assertEqual(status, 200)
        self.assertEqual(psql(DSN, f"SELECT opted_out FROM conversations WHERE tenant_id = {tenant_id(DSN, 'local')} "
                                   f"AND phone = '{phone}'"), "t")
        for payload in ({"to": phone, "body": "hi"}, {"to": phone, "content_sid": template()}):
            status, _, data = send(payload)
            self.assertEqual(status, 422, data)
            self.assertEqual(error_of(data)["code"], "recipient_opted_out")

    def test_window_of_one_tenant_does_not_open_it_for_another(self):
        phone = new_phone()
        open_window(phone)
        status, _, data = send({"to": phone, "body": "hi"})
        self.assertEqual(status, 202, data)
        status, _, data = send({"to": phone, "body": "hi"}, key=OTHER["key"])
        self.assertEqual(status, 422, data)
        self.assertEqual(error_of(data)["code"], "outside_session_window")


class Idempotency(unittest.TestCase):
    def payload(self, **extra):
        return {"to": new_phone(), "content_sid": template(), "client_ref": "idem-" + os.urandom(4).hex(), **extra}

    def test_replay_returns_the_first_answer_and_sends_nothing_new(self):
        payload, key = self.payload(), "k-" + os.urandom(8).hex()
        first = send(payload, headers={"Idempotency-Key": key})
        self.assertEqual(first[0], 202, first[2])
        self.assertNotIn("idempotent-replayed", first[1])
        for header in ("Idempotency-Key", "X-Idempotency-Key"):
            again = send(payload, headers={header: key})
            self.assertEqual(again[0], 202, again[2])
            self.assertEqual(again[2], first[2])
            self.assertEqual(again[1].get("idempotent-replayed"), "true")
            self.assertEqual(again[1]["location"], first[1]["location"])
        self.assertEqual(count_messages(payload["client_ref"]), 1)

    def test_same_key_different_body_is_refused(self):
        payload, key = self.payload(), "k-" + os.urandom(8).hex()
        self.assertEqual(send(payload, headers={"Idempotency-Key": key})[0], 202)
        changed = dict(payload, to=new_phone())
        status, _, data = send(changed, headers={"Idempotency-Key": key})
        self.assertEqual(status, 422, data)
        self.assertEqual(error_of(data)["code"], "idempotency_key_reused")
        self.assertEqual(count_messages(payload["client_ref"]), 1)

    def test_request_in_flight_is_answered_409_at_once(self):
        payload, key = self.payload(), "k-" + os.urandom(8).hex()
        # Hold the key's lock the way a request still being processed holds it.
        digest = hashlib.sha256(f"idempotency\n{tenant_id(DSN, 'local')}\n{key}".encode()).digest()
        lock = int.from_bytes(digest[:8], "little", signed=True)
        holder = subprocess.Popen(["psql", DSN, "-XAtq", "-c",
                                   f"BEGIN; SELECT pg_advisory_xact_lock({lock}); SELECT pg_sleep(4); COMMIT;"],
                                  stdout=subprocess.DEVNULL)
        try:
            deadline = time.time() + 5
            while psql(DSN, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") == "0":
                self.assertLess(time.time(), deadline, "the lock holder did not start")
                time.sleep(0.05)
            started = time.time()
            status, _, data = send(payload, headers={"Idempotency-Key": key})
            self.assertEqual(status, 409, data)
            self.assertEqual(error_of(data)["code"], "idempotency_key_in_flight")
            self.assertLess(time.time() - started, 2, "409 must not wait for the lock")
        finally:
            holder.wait(timeout=15)
        # Released: the request goes through now, once.
        self.assertEqual(send(payload, headers={"Idempotency-Key": key})[0], 202)
        self.assertEqual(count_messages(payload["client_ref"]), 1)

    def test_concurrent_requests_with_one_key_make_one_message(self):
        for _ in range(5):
            payload, key = self.payload(), "k-" + os.urandom(8).hex()
            barrier = threading.Barrier(8)
            results = []

            def worker():
                barrier.wait()
                results.append(send(payload, headers={"Idempotency-Key": key}))

            threads = [threading.Thread(target=worker) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            statuses = sorted(r[0] for r in results)
            self.assertTrue(set(statuses) <= {202, 409}, statuses)
            fresh = [r for r in results if r[0] == 202 and "idempotent-replayed" not in r[1]]
            self.assertEqual(len(fresh), 1, statuses)
            ids = {r[2]["id"] for r in results if r[0] == 202}
            self.assertEqual(len(ids), 1)
            self.assertEqual(count_messages(payload["client_ref"]), 1)

    def test_refused_by_whatsapp_rules_is_remembered(self):
        phone, key = new_phone(), "k-" + os.urandom(8).hex()
        payload = {"to": phone, "body": "hi"}
        first = send(payload, headers={"Idempotency-Key": key})
        self.assertEqual(first[0], 422, first[2])
        open_window(phone)
        again = send(payload, headers={"Idempotency-Key": key})
        self.assertEqual((again[0], again[2]), (first[0], first[2]))
        self.assertEqual(again[1].get("idempotent-replayed"), "true")
        self.assertEqual(send(payload, headers={"Idempotency-Key": key + "-2"})[0], 202)

    def test_invalid_request_is_not_remembered(self):
        key = "k-" + os.urandom(8).hex()
        payload = self.payload()
        bad = dict(payload, priority="urgent")
        self.assertEqual(send(bad, headers={"Idempotency-Key": key})[0], 400)
        status, headers, data = send(payload, headers={"Idempotency-Key": key})
        self.assertEqual(status, 202, data)
        self.assertNotIn("idempotent-replayed", headers)

    def test_expired_key_is_a_new_request(self):
        payload, key = self.payload(), "k-" + os.urandom(8).hex()
        first = send(payload, headers={"Idempotency-Key": key})
        self.assertEqual(first[0], 202)
        expires = psql(DSN, f"SELECT extract(epoch FROM expires_at - created_at)::int FROM idempotency_keys "
                            f"WHERE tenant_id = {tenant_id(DSN, 'local')} AND idem_key = '{key}'")
        self.assertEqual(expires, str(24 * 3600))  # idempotency_ttl_hours default
        psql(DSN, f"UPDATE idempotency_keys SET expires_at = now() - interval '1 second' "
                  f"WHERE tenant_id = {tenant_id(DSN, 'local')} AND idem_key = '{key}'")
        second = send(payload, headers={"Idempotency-Key": key})
        self.assertEqual(second[0], 202)
        self.assertNotIn("idempotent-replayed", second[1])
        self.assertNotEqual(second[2]["id"], first[2]["id"])
        third = send(payload, headers={"Idempotency-Key": key})
        self.assertEqual(third[2]["id"], second[2]["id"])

    def test_keys_belong_to_one_tenant(self):
        payload, key = self.payload(), "k-" + os.urandom(8).hex()
        mine = send(payload, headers={"Idempotency-Key": key})
        self.assertEqual(mine[0], 202)
        theirs = send(payload, key=OTHER["key"], headers={"Idempotency-Key": key})
        self.assertEqual(theirs[0], 202, theirs[2])
        self.assertNotIn("idempotent-replayed", theirs[1])
        self.assertNotEqual(theirs[2]["id"], mine[2]["id"])
        self.assertEqual(psql(DSN, f"SELECT tenant_id FROM messages WHERE id = '{theirs[2]['id']}'"),
                         tenant_id(DSN, OTHER["name"]))
        # And each tenant still replays its own answer.
        self.assertEqual(send(payload, headers={"Idempotency-Key": key})[2]["id"], mine[2]["id"])
        self.assertEqual(send(payload, key=OTHER["key"], headers={"Idempotency-Key": key})[2]["id"], theirs[2]["id"])


@unittest.skipUnless(os.environ.get("SEND_TEST_REDIS_STOPPED") == "1", "needs Redis stopped by send_api_test.sh")
class RedisOutage(unittest.TestCase):
    def test_accepted_while_redis_is_down_and_left_for_the_sweeper(self):
        ref = "redis-" + os.urandom(4).hex()
        status, _, data = send({"to": new_phone(), "content_sid": template(), "client_ref": ref},
                               headers={"Idempotency-Key": ref})
        self.assertEqual(status, 202, data)
        self.assertEqual(psql(DSN, f"SELECT status, next_attempt_at > created_at FROM messages "
                                   f"WHERE id = '{data['id']}'"), "accepted|t")
        with open(os.path.join(os.environ["WAGATE_RUN_DIR"], "logs", "api.log")) as log:
            self.assertIn(data["id"], "".join(line for line in log if "send_enqueue_failed" in line))


if __name__ == "__main__":
    unittest.main()
