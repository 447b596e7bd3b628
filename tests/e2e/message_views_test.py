"""message_views_test.py — the read API through nginx (message, status, list, phone metrics) and admin retry.

Run by message_views_test.sh against a stack it brought up (WAGATE_RUN_DIR set).
Data is made the way production makes it: inbound messages and status
callbacks are posted, signed, through nginx; outbound rows (and their
message_index entries) are inserted as the sender leaves them.
"""
import base64
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from twilio_client import (LOCAL_SENDER as SENDER, Gateway, add_tenant, admin, bin_path, new_phone,  # noqa: E402
                           new_sid, psql, stack_env, tenant_id)

STATUS = "/api/v1/whatsapp/status"
INBOUND = "/api/v1/whatsapp/webhook"
MESSAGES = "/api/v1/whatsapp/messages"
DELIVERY = "/api/v1/whatsapp/delivery-status"
ENV = stack_env()
GW = Gateway(ENV)
DSN = ENV["WAGATE_PG_DSN"]
KEY = ENV["WAGATE_API_KEY"]
ACCOUNT = ENV["TWILIO_ACCOUNT_SID"]
SENDER_RUNNING = os.path.exists(bin_path("wagate-sender"))


def get(path, key=KEY):
    headers = {} if key is None else {"Authorization": "Bearer " + key}
    status, _, body = GW.request("GET", path, b"", headers)
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = {"raw": body.decode(errors="replace")}
    return status, data


def insert_outbound(phone, status="queued", sid=None, error_code=None, error_message=None, seconds_ago=0,
                    tenant="local", body="hello", content_sid=None):
    """An outbound message as the sender leaves it; with a SID, its message_index entry too."""
    sid_sql = f"'{sid}'" if sid else "NULL"
    code_sql = str(error_code) if error_code else "NULL"
    msg_sql = "NULL" if error_message is None else "'" + error_message.replace("'", "''") + "'"
    content_sql = f"'{content_sid}'" if content_sid else "NULL"
    failed = status in ("failed", "undelivered")
    return psql(DSN, f"""
        WITH m AS (
          INSERT INTO messages (tenant_id, created_at, direction, message_sid, from_addr, to_addr, body, content_sid,
                                status, status_rank, error_code, error_message, failed_at, last_status_at)
          VALUES ({tenant_id(DSN, tenant)}, now() - interval '{seconds_ago} seconds', 'outbound', {sid_sql},
                  '{SENDER}', 'whatsapp:{phone}', '{body}', {content_sql}, '{status}', wagate_status_rank('{status}'),
                  {code_sql}, {msg_sql}, CASE WHEN {failed} THEN now() END, now())
          RETURNING tenant_id, id, created_at, message_sid),
        i AS (INSERT INTO message_index (message_sid, tenant_id, message_id, created_at)
              SELECT message_sid, tenant_id, id, created_at FROM m WHERE message_sid IS NOT NULL)
        SELECT id FROM m""")


def status_params(sid, status, **extra):
    params = [("AccountSid", ACCOUNT), ("ApiVersion", "2010-04-01"), ("ChannelPrefix", "whatsapp"),
              ("From", SENDER), ("MessageSid", sid), ("MessageStatus", status),
              ("SmsSid", sid), ("SmsStatus", status), ("To", "whatsapp:+15005550006")]
    return params + list(extra.items())


def post_status(sid, status, **extra):
    code, _, body = GW.post_signed(STATUS, status_params(sid, status, **extra))
    assert code == 200, (code, body)


def post_inbound(phone, body="hello"):
    sid = new_sid()
    params = [("AccountSid", ACCOUNT), ("ApiVersion", "2010-04-01"), ("Body", body),
              ("From", "whatsapp:" + phone), ("MessageSid", sid), ("NumMedia", "0"), ("ProfileName", "Ana"),
              ("SmsMessageSid", sid), ("SmsSid", sid), ("SmsStatus", "received"), ("To", SENDER),
              ("WaId", phone[1:])]
    code, _, resp = GW.post_signed(INBOUND, params)
    assert code == 200, (code, resp)
    return sid


KEYS = {}


def setUpModule():
    KEYS["send_only"] = admin(ENV, "key", "create", "--tenant", "local", "--scopes", "send").stdout.strip()
    other = add_tenant(ENV, "views-other")
    KEYS["other_tenant"] = other
    KEYS["other"] = admin(ENV, "key", "create", "--tenant", other, "--scopes", "read").stdout.strip()


class MessageById(unittest.TestCase):
    def test_full_history_in_arrival_order_with_late_and_duplicate_callbacks(self):
        phone, sid = new_phone(), new_sid()
        msg_id = insert_outbound(phone, sid=sid)
        # delivered first, then a late sent (kept, moves nothing), the same
        # sent again (stored once), then read.
        for status in ("delivered", "sent", "sent", "read"):
            post_status(sid, status)
        status, by_id = get(f"{MESSAGES}/{msg_id}")
        self.assertEqual(status, 200, by_id)
        status, by_sid = get(f"{MESSAGES}/{sid}")
        self.assertEqual(status, 200, by_sid)
        self.assertEqual(by_id, by_sid)
        m = by_id
        self.assertEqual((m["id"], m["message_sid"], m["direction"]), (msg_id, sid, "outbound"))
        self.assertEqual((m["from"], m["to"], m["body"]), (SENDER, "whatsapp:" + phone, "hello"))
        self.assertEqual(m["status"], "read")
        self.assertIsNone(m["error"])
        for field in ("created_at", "sent_at", "delivered_at", "read_at", "last_status_at"):
            self.assertRegex(m[field], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", field)
        self.assertIsNone(m["failed_at"])
        self.assertIsInstance(m["delivery_ms"], int)
        self.assertEqual((m["attempts"], m["retry_of"], m["client_ref"]), (0, None, None))
        history = [(e["status"], e["previous_status"], e["applied"]) for e in m["history"]]
        self.assertEqual(history, [("delivered", "queued", True), ("sent", "delivered", True),
                                   ("read", "delivered", True)])
        times = [e["received_at"] for e in m["history"]]
        self.assertEqual(times, sorted(times))
        self.assertEqual(m["delivered_at"], times[0])

    def test_delivery_status_is_the_compact_form(self):
        phone, sid = new_phone(), new_sid()
        insert_outbound(phone, sid=sid)
        post_status(sid, "sent")
        post_status(sid, "delivered")
        status, full = get(f"{MESSAGES}/{sid}")
        self.assertEqual(status, 200)
        status, compact = get(f"{DELIVERY}/{sid}")
        self.assertEqual(status, 200, compact)
        self.assertNotIn("body", compact)
        self.assertNotIn("to", compact)
        for field in ("id", "message_sid", "status", "error", "created_at", "sent_at", "delivered_at",
                      "delivery_ms", "history"):
            self.assertEqual(compact[field], full[field], field)
        self.assertEqual([e["status"] for e in compact["history"]], ["sent", "delivered"])

    def test_failed_message_explains_its_error(self):
        sid = new_sid()
        insert_outbound(new_phone(), sid=sid)
        post_status(sid, "failed", ErrorCode="63016", ErrorMessage="Outside the allowed window")
        status, m = get(f"{MESSAGES}/{sid}")
        self.assertEqual(status, 200, m)
        self.assertEqual(m["status"], "failed")
        err = m["error"]
        self.assertEqual(err["code"], 63016)
        self.assertEqual(err["message"], "Outside the allowed window")
        self.assertFalse(err["retryable"])
        self.assertIn("template", err["action"])
        self.assertTrue(err["description"])
        self.assertEqual(m["history"][0]["error_code"], 63016)
        self.assertIsNotNone(m["failed_at"])

    def test_callback_that_beat_the_sender_appears_once_the_sid_is_recorded(self):
        sid = new_sid()
        post_status(sid, "sent")  # no message carries this SID yet
        status, _ = get(f"{DELIVERY}/{sid}")
        self.assertEqual(status, 404)
        msg_id = insert_outbound(new_phone(), sid=sid)
        status, m = get(f"{MESSAGES}/{msg_id}")
        self.assertEqual(status, 200, m)
        self.assertEqual(m["status"], "sent")
        self.assertEqual([(e["status"], e["applied"]) for e in m["history"]], [("sent", True)])

    def test_inbound_message_by_sid(self):
        phone = new_phone()
        sid = post_inbound(phone, "Hola")
        status, m = get(f"{MESSAGES}/{sid}")
        self.assertEqual(status, 200, m)
        self.assertEqual((m["direction"], m["from"], m["to"], m["body"], m["status"]),
                         ("inbound", "whatsapp:" + phone, SENDER, "Hola", "received"))
        self.assertEqual(m["history"], [])

    def test_bad_references_are_400_and_unknown_ones_404(self):
        for ref in ("abc", "SM123", "SM" + "g" * 32, "XX" + "a" * 32):
            status, body = get(f"{MESSAGES}/{ref}")
            self.assertEqual(status, 400, ref)
            self.assertEqual(body["error"]["code"], "invalid_parameter")
        status, body = get(f"{DELIVERY}/not-a-sid")
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["field"], "message_sid")
        status, body = get(f"{MESSAGES}/{psql(DSN, 'SELECT gen_random_uuid()')}")
        self.assertEqual((status, body["error"]["code"]), (404, "not_found"))
        status, body = get(f"{MESSAGES}/{new_sid()}")
        self.assertEqual(status, 404)


class Walls(unittest.TestCase):
    def test_another_tenants_message_is_404_like_a_missing_one(self):
        sid = new_sid()
        msg_id = insert_outbound(new_phone(), sid=sid)
        post_status(sid, "delivered")
        other = KEYS["other"]
        _, missing_body = get(f"{MESSAGES}/{psql(DSN, 'SELECT gen_random_uuid()')}", key=other)
        for path in (f"{MESSAGES}/{msg_id}", f"{MESSAGES}/{sid}", f"{DELIVERY}/{sid}"):
            status, body = get(path, key=other)
            self.assertEqual(status, 404, path)
            self.assertEqual(body, missing_body, path)
        self.assertEqual(get(f"{MESSAGES}/{msg_id}")[0], 200)

    def test_another_tenant_lists_and_measures_nothing_of_ours(self):
        phone = new_phone()
        insert_outbound(phone, status="delivered")
        post_inbound(phone)
        status, body = get(f"{MESSAGES}?phone={urllib.parse.quote(phone)}", key=KEYS["other"])
        self.assertEqual(status, 200, body)
        self.assertEqual(body["messages"], [])
        status, body = get(f"/api/v1/whatsapp/phones/{urllib.parse.quote(phone)}/metrics", key=KEYS["other"])
        self.assertEqual(status, 200, body)
        self.assertEqual((body["sent"], body["health"]), (0, "unknown"))

    def test_keys_and_scopes(self):
        msg_id = insert_outbound(new_phone())
        for path in (f"{MESSAGES}/{msg_id}", MESSAGES, f"{DELIVERY}/{new_sid()}",
                     "/api/v1/whatsapp/phones/%2B14155550123/metrics"):
            status, body = get(path, key=None)
            self.assertEqual(status, 401, path)
            self.assertEqual(body["error"]["code"], "unauthorized")
            status, _ = get(path, key="wg_aaaaaaaaaaaa_" + "A" * 43)
            self.assertEqual(status, 401, path)
            status, body = get(path, key=KEYS["send_only"])
            self.assertEqual(status, 403, path)
            self.assertIn("read", body["error"]["message"])


def page_through(query, limit):
    ids, created, pages = [], [], 0
    cursor = None
    while True:
        path = f"{MESSAGES}?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, body = get(path)
        assert status == 200, (status, body)
        assert len(body["messages"]) <= limit
        ids += [m["id"] for m in body["messages"]]
        created += [m["created_at"] for m in body["messages"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, created, pages
        assert pages < 1000, "pagination does not end"


class ListMessages(unittest.TestCase):
    def test_pagination_is_stable_while_messages_arrive(self):
        phone = new_phone()
        tid = tenant_id(DSN, "local")
        # 40 outbound at distinct times, 12 sharing one instant (the id breaks
        # the tie), 10 inbound from the contact.
        psql(DSN, f"""
            INSERT INTO messages (tenant_id, created_at, direction, from_addr, to_addr, body, status, status_rank)
            SELECT {tid}, now() - g * interval '1 second', 'outbound', '{SENDER}', 'whatsapp:{phone}', 'p' || g,
                   'sent', wagate_status_rank('sent') FROM generate_series(1, 40) g;
            INSERT INTO messages (tenant_id, created_at, direction, from_addr, to_addr, body, status, status_rank)
            SELECT {tid}, date_trunc('second', now()) - interval '100 seconds', 'outbound', '{SENDER}',
                   'whatsapp:{phone}', 'tie' || g, 'delivered', wagate_status_rank('delivered')
              FROM generate_series(1, 12) g;
            INSERT INTO messages (tenant_id, created_at, direction, from_addr, to_addr, body, status, status_rank)
            SELECT {tid}, now() - g * interval '1 second' - interval '500 milliseconds', 'inbound',
                   'whatsapp:{phone}', '{SENDER}', 'in' || g, 'received', wagate_status_rank('received')
              FROM generate_series(1, 10) g;""")
        initial = psql(DSN, f"SELECT id FROM messages WHERE tenant_id = {tid} AND "
                            f"('whatsapp:{phone}' IN (to_addr, from_addr)) ORDER BY created_at DESC, id DESC"
                       ).split("\n")
        self.assertEqual(len(initial), 62)
        # Another phone's messages never show up in this phone's list.
        insert_outbound(new_phone(), status="sent")

        stop = threading.Event()
        inserted = []

        def keep_inserting():
            while not stop.is_set():
                if len(inserted) % 2:
                    inserted.append(insert_outbound(phone, status="sent"))
                else:
                    psql(DSN, f"INSERT INTO messages (tenant_id, direction, from_addr, to_addr, body, status, "
                              f"status_rank) VALUES ({tid}, 'inbound', 'whatsapp:{phone}', '{SENDER}', 'new', "
                              f"'received', wagate_status_rank('received'))")
                    inserted.append(None)
                time.sleep(0.02)

        writer = threading.Thread(target=keep_inserting)
        writer.start()
        try:
            time.sleep(0.1)
            ids, created, pages = page_through(f"phone={urllib.parse.quote(phone)}", 7)
        finally:
            stop.set()
            writer.join()
        self.assertGreater(len(inserted), 0, "nothing was inserted during the paging")
        self.assertGreaterEqual(pages, 9)
        self.assertEqual(len(ids), len(set(ids)), "a message was listed twice")
        # Every message that existed at the start, each once, in order; rows
        # inserted meanwhile are newer, so they can only come before them.
        first_initial = ids.index(initial[0])
        self.assertEqual(ids[first_initial:], initial)
        pairs = list(zip(created, ids))
        self.assertEqual(pairs, sorted(pairs, reverse=True), "not newest first")

    def test_filters(self):
        phone = new_phone()
        insert_outbound(phone, status="failed", error_code=30003, seconds_ago=30)
        insert_outbound(phone, status="delivered", seconds_ago=20)
        post_inbound(phone, "hi")
        q = urllib.parse.quote(phone)
        status, body = get(f"{MESSAGES}?phone={q}")
        self.assertEqual(status, 200, body)
        self.assertEqual([m["direction"] for m in body["messages"]], ["inbound", "outbound", "outbound"])
        self.assertIsNone(body["next_cursor"])
        status, body = get(f"{MESSAGES}?phone={q}&status=failed")
        self.assertEqual([(m["status"], m["error"]["code"]) for m in body["messages"]], [("failed", 30003)])
        status, body = get(f"{MESSAGES}?phone={q}&direction=inbound")
        self.assertEqual([m["body"] for m in body["messages"]], ["hi"])
        status, body = get(f"{MESSAGES}?phone={phone}&status=delivered,failed&direction=outbound")  # raw '+'
        self.assertEqual([m["status"] for m in body["messages"]], ["delivered", "failed"])
        since = psql(DSN, "SELECT to_char((now() - interval '25 seconds') AT TIME ZONE 'UTC', "
                          "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
        status, body = get(f"{MESSAGES}?phone={q}&since={since}")
        self.assertEqual(len(body["messages"]), 2, body)
        status, body = get(f"{MESSAGES}?phone={q}&until={since}")
        self.assertEqual([m["status"] for m in body["messages"]], ["failed"])
        status, body = get(f"{MESSAGES}?phone={q}&limit=1")
        self.assertEqual(len(body["messages"]), 1)
        self.assertIsNotNone(body["next_cursor"])

    def test_a_cursor_pages_on_only_its_own_query_and_tenant(self):
        phone = new_phone()
        for seconds in (30, 20, 10):
            insert_outbound(phone, status="failed", seconds_ago=seconds)
        q = urllib.parse.quote(phone)
        status, body = get(f"{MESSAGES}?phone={q}&status=failed&limit=1")
        self.assertEqual(status, 200, body)
        cursor = body["next_cursor"]
        self.assertIsNotNone(cursor)
        # Untouched, with the same filters (the limit may change): the next page.
        status, body = get(f"{MESSAGES}?phone={q}&status=failed&limit=2&cursor={cursor}")
        self.assertEqual((status, len(body["messages"])), (200, 2), body)
        raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        raw[12] ^= 1  # a byte of the message id
        tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
        for path, key in ((f"{MESSAGES}?phone={q}&status=failed&cursor={tampered}", KEY),
                          (f"{MESSAGES}?phone={q}&status=delivered&cursor={cursor}", KEY),
                          (f"{MESSAGES}?status=failed&cursor={cursor}", KEY),
                          (f"{MESSAGES}?phone={q}&status=failed&cursor={cursor}", KEYS["other"])):
            status, body = get(path, key=key)
            self.assertEqual(status, 400, (path, body))
            self.assertEqual(body["error"]["code"], "invalid_parameter", body)
            self.assertEqual(body["error"]["field"], "cursor", body)
            self.assertIn("next_cursor unchanged", body["error"]["message"])

    def test_bad_parameters_name_the_field(self):
        for query, field in (("limit=0", "limit"), ("limit=201", "limit"), ("status=lost", "status"),
                             ("direction=up", "direction"), ("since=yesterday", "since"), ("cursor=xyz", "cursor"),
                             ("phone=12", "phone"), ("sort=asc", "sort"), ("limit=5&limit=6", "limit")):
            status, body = get(f"{MESSAGES}?{query}")
            self.assertEqual(status, 400, query)
            self.assertEqual(body["error"]["field"], field, query)


class PhoneMetrics(unittest.TestCase):
    def outcomes(self, phone, statuses, code=30003):
        """statuses oldest first; each one second newer than the one before."""
        for i, status in enumerate(statuses):
            failed = status in ("failed", "undelivered")
            insert_outbound(phone, status=status, error_code=code if failed else None,
                            seconds_ago=len(statuses) - i + 10)

    def metrics(self, phone, key=KEY):
        status, body = get(f"/api/v1/whatsapp/phones/{urllib.parse.quote(phone)}/metrics", key=key)
        self.assertEqual(status, 200, body)
        return body

    def test_healthy(self):
        phone = new_phone()
        self.outcomes(phone, ["delivered"] * 15 + ["read"] * 5)
        m = self.metrics(phone)
        self.assertEqual((m["phone"], m["sent"], m["successes"], m["failures"]), (phone, 20, 20, 0))
        self.assertEqual(m["delivery_rate"], 1.0)
        self.assertEqual(m["health"], "healthy")
        self.assertEqual(m["recent_errors"], [])
        self.assertIsNotNone(m["last_outbound_at"])

    def test_newest_three_failed_is_failing(self):
        phone = new_phone()
        self.outcomes(phone, ["delivered"] * 17 + ["failed"] * 3)
        m = self.metrics(phone)
        self.assertEqual((m["health"], m["failures"]), ("failing", 3))
        self.assertIn("newest 3", m["health_basis"]["reason"])
        self.assertEqual(len(m["recent_errors"]), 3)
        e = m["recent_errors"][0]
        self.assertEqual((e["code"], e["retryable"], e["status"]), (30003, True, "failed"))
        self.assertTrue(e["description"] and e["action"] and e["message_id"])

    def test_degraded_and_failing_by_rate(self):
        phone = new_phone()
        self.outcomes(phone, ["failed", "delivered", "failed"] + ["delivered"] * 17)
        m = self.metrics(phone)
        self.assertEqual(m["health"], "degraded")
        self.assertEqual((m["health_basis"]["considered"], m["health_basis"]["failed"]), (20, 2))
        phone = new_phone()
        self.outcomes(phone, ["failed", "delivered"] * 10)
        self.assertEqual(self.metrics(phone)["health"], "failing")

    def test_only_the_last_twenty_finished_count_and_pending_do_not(self):
        phone = new_phone()
        self.outcomes(phone, ["failed"] * 10 + ["delivered"] * 20 + ["sent", "queued"])
        m = self.metrics(phone)
        self.assertEqual(m["health"], "healthy")
        self.assertEqual((m["sent"], m["successes"], m["failures"], m["pending"]), (32, 20, 10, 2))
        self.assertAlmostEqual(m["delivery_rate"], 20 / 30)
        self.assertEqual(len(m["recent_errors"]), 5)

    def test_recent_errors_newest_first_with_descriptions(self):
        phone = new_phone()
        for i, code in enumerate([63016, 30003, 63024, 21610, 30008, 63049, 30005]):
            insert_outbound(phone, status="failed", error_code=code, seconds_ago=100 - i)
        m = self.metrics(phone)
        self.assertEqual([e["code"] for e in m["recent_errors"]], [30005, 63049, 30008, 21610, 63024])
        self.assertEqual(m["health"], "failing")
        self.assertFalse(m["recent_errors"][1]["retryable"])

    def test_unknown_without_messages_and_bad_phone(self):
        m = self.metrics(new_phone())
        self.assertEqual((m["sent"], m["health"], m["delivery_rate"], m["last_message_at"]), (0, "unknown", None, None))
        status, body = get("/api/v1/whatsapp/phones/12/metrics")
        self.assertEqual((status, body["error"]["code"]), (400, "invalid_phone"))

    def test_inbound_sets_last_message_and_window(self):
        phone = new_phone()
        insert_outbound(phone, status="delivered", seconds_ago=60)
        post_inbound(phone)
        m = self.metrics(phone)
        self.assertTrue(m["window_open"])
        self.assertEqual(m["last_message_at"], m["last_inbound_at"])
        self.assertGreater(m["last_inbound_at"], m["last_outbound_at"])


class Retry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tenant = add_tenant(ENV, "views-retry")
        tid = tenant_id(DSN, cls.tenant)
        cls.rows = {}

        def add(name, code, window=True, opted_out=False, content_sid=None, status="failed"):
            phone = new_phone()
            if window or opted_out:
                psql(DSN, f"INSERT INTO conversations (tenant_id, phone, last_inbound_at, window_expires_at, "
                          f"opted_out) VALUES ({tid}, '{phone}', now(), "
                          f"now() + interval '{'1 hour' if window else '-1 hour'}', {opted_out})")
            cls.rows[name] = insert_outbound(phone, status=status, error_code=code, tenant=cls.tenant,
                                             body=f"body of {name}", content_sid=content_sid, seconds_ago=60)

        add("unreachable", 30003)
        add("undelivered_rate", 63018, status="undelivered")
        add("template_no_window", 30008, window=False, content_sid="HX" + "a" * 32)
        add("window_closed", 30003, window=False)
        add("opted_out", 30003, opted_out=True)
        add("outside_window_code", 63016)
        add("unsubscribed", 21610)
        add("already", 30003)
        # "already" has had its retry.
        psql(DSN, f"INSERT INTO messages (tenant_id, direction, to_addr, body, status, status_rank, retry_of) "
                  f"SELECT tenant_id, 'outbound', to_addr, body, 'delivered', wagate_status_rank('delivered'), id "
                  f"FROM messages WHERE id = '{cls.rows['already']}'")
        cls.before = cls.count()

    @classmethod
    def count(cls):
        return int(psql(DSN, f"SELECT count(*) FROM messages WHERE tenant_id = {tenant_id(DSN, cls.tenant)}"))

    def retries_of(self, name):
        return psql(DSN, f"SELECT id FROM messages WHERE retry_of = '{self.rows[name]}'").split()

    def test_retry(self):
        # A dry run lists and changes nothing.
        out = admin(ENV, "retry", "--since", "1h", "--tenant", self.tenant, "--dry-run")
        lines = out.stdout.splitlines()
        would = {line.split()[2] for line in lines if line.startswith("would retry ")}
        self.assertEqual(would, {self.rows["unreachable"], self.rows["undelivered_rate"],
                                 self.rows["template_no_window"]}, out.stdout)
        skipped = {line.split()[1]: line for line in lines if line.startswith("skip ")}
        self.assertIn("already retried", skipped[self.rows["already"]])
        self.assertIn("opted out", skipped[self.rows["opted_out"]])
        self.assertIn("window", skipped[self.rows["window_closed"]])
        for name in ("outside_window_code", "unsubscribed"):  # not retryable: not even considered
            self.assertNotIn(self.rows[name], out.stdout)
        self.assertIn("3 would be retried, 3 skipped", lines[-1])
        self.assertEqual(self.count(), self.before)

        # For real: one new message per retryable original, the same content.
        out = admin(ENV, "retry", "--since", "1h", "--tenant", self.tenant)
        self.assertIn("3 retried, 3 skipped", out.stdout.splitlines()[-1], out.stdout)
        self.assertEqual(self.count(), self.before + 3)
        for name in ("unreachable", "undelivered_rate", "template_no_window"):
            new = self.retries_of(name)
            self.assertEqual(len(new), 1, name)
            self.assertIn(f"{self.rows[name]} ", out.stdout)
            same = psql(DSN, f"SELECT n.tenant_id = o.tenant_id AND n.to_addr = o.to_addr AND "
                             f"n.from_addr = o.from_addr AND n.body = o.body AND "
                             f"n.content_sid IS NOT DISTINCT FROM o.content_sid AND "
                             # A running sender may already have picked the new message up.
                             f"{'true' if SENDER_RUNNING else 'n.attempts = 0'} AND "
                             f"n.direction = 'outbound' FROM messages n JOIN messages o ON o.id = n.retry_of "
                             f"WHERE n.id = '{new[0]}'")
            self.assertEqual(same, "t", name)
            if not SENDER_RUNNING:
                self.assertEqual(psql(DSN, f"SELECT status || '|' || (next_attempt_at <= now()) FROM messages "
                                           f"WHERE id = '{new[0]}'"), "accepted|true")
                queue = subprocess.run(["redis-cli", "-u", ENV["WAGATE_REDIS_URL"], "XRANGE", "wagate:send:normal",
                                        "-", "+"], capture_output=True, text=True).stdout
                self.assertIn(new[0], queue)
        for name in ("window_closed", "opted_out", "outside_window_code", "unsubscribed"):
            self.assertEqual(self.retries_of(name), [], name)
        self.assertEqual(len(self.retries_of("already")), 1)

        # Again: everything has its retry now.
        out = admin(ENV, "retry", "--since", "1h", "--tenant", self.tenant)
        self.assertIn("0 retried, 6 skipped (4 already retried, 1 opted out, 1 outside",
                      out.stdout.splitlines()[-1], out.stdout)
        self.assertEqual(self.count(), self.before + 3)

        # A code a resend cannot help is refused, unless forced.
        out = admin(ENV, "retry", "--since", "1h", "--tenant", self.tenant, "--error-code", "63016", check=False)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--force", out.stderr)
        self.assertIn("63016", out.stderr)
        self.assertEqual(self.count(), self.before + 3)
        out = admin(ENV, "retry", "--since", "1h", "--tenant", self.tenant, "--error-code", "63016", "--force")
        self.assertIn("1 retried", out.stdout)
        self.assertEqual(len(self.retries_of("outside_window_code")), 1)
        self.assertEqual(self.retries_of("unsubscribed"), [])

    def test_usage_errors(self):
        for args in (["retry"], ["retry", "--since", "soon"], ["retry", "--since", "1h", "--error-code", "x"],
                     ["retry", "--since", "1h", "--bogus"]):
            out = admin(ENV, *args, check=False)
            self.assertEqual(out.returncode, 2, args)
            self.assertEqual(out.stdout, "", args)
        out = admin(ENV, "retry", "--since", "1h", "--tenant", "no-such-tenant", check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("no-such-tenant", out.stderr)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], *sys.argv[1:]], verbosity=2)
