"""delivery_metrics_test.py — GET /api/v1/whatsapp/delivery-metrics equals a brute-force count over messages, always.

Run by delivery_metrics_test.sh against a stack it brought up (WAGATE_RUN_DIR
set). A few thousand outbound messages are written with psql, then moved by
signed status callbacks through nginx (out of order and duplicated too). The
endpoint's answer is compared, field by field, with the same numbers computed
here in Python from `SELECT ... FROM messages`: before the rollup job ever
ran, after it ran, after late callbacks, inserts, direct updates and deletes
it has not seen yet, and after it caught up.
"""
import collections
import concurrent.futures
import datetime
import json
import os
import random
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from twilio_client import Gateway, add_tenant, admin, maint_job, psql, stack_env, tenant_id  # noqa: E402

METRICS = "/api/v1/whatsapp/delivery-metrics"
STATUS = "/api/v1/whatsapp/status"
ENV = stack_env()
GW = Gateway(ENV)
DSN = ENV["WAGATE_PG_DSN"]
KEY = ENV["WAGATE_API_KEY"]
ACCOUNT = ENV["TWILIO_ACCOUNT_SID"]
SENDERS = ["whatsapp:+14155238886", "whatsapp:+14155238887"]
STATUS_ORDER = ["accepted", "scheduled", "retrying", "dispatching", "queued", "unknown", "sending", "sent",
                "partially_delivered", "undelivered", "failed", "canceled", "delivered", "read"]
ERROR_CODES = [63016, 63024, 30003, 30005, 63003, 30008]
MINUTE = 60 * 1000000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
RANDOM = random.Random(20240501)


def now_micros():
    return int(psql(DSN, "SELECT (extract(epoch FROM now()) * 1000000)::bigint"))


def iso(micros):
    t = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=micros)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{t.microsecond:06d}" if t.microsecond else "") + "Z"


def parse_iso(text):
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(microseconds=1)


def get_metrics(key=KEY, **params):
    query = urllib.parse.urlencode(params)
    status, _, body = GW.request("GET", METRICS + ("?" + query if query else ""),
                                 headers={"Authorization": "Bearer " + key} if key else {})
    return status, json.loads(body) if body else None


def insert_messages(tenant, count, max_age_s, recent_share=0.3, null_sender_share=0.05):
    """Outbound messages as the sender leaves them once Twilio answered 201: queued, with a SID.
    A share of them is minutes old, so that their callbacks give delivery times of seconds."""
    prefix = os.urandom(4).hex()
    # `+ i * interval '0 seconds'` ties the lateral subquery to its row, so
    # that random() is drawn for each message, not once.
    out = psql(DSN, f"""
        WITH ins AS (
          INSERT INTO messages (tenant_id, created_at, direction, message_sid, from_addr, to_addr, body, status,
                                status_rank, queued_at, last_status_at)
          SELECT {tenant}, c.created_at, 'outbound', 'SM' || md5('{prefix}' || i),
                 CASE WHEN random() < {null_sender_share} THEN NULL
                      WHEN random() < 0.6 THEN '{SENDERS[0]}' ELSE '{SENDERS[1]}' END,
                 'whatsapp:+1555' || lpad(i::text, 7, '0'), 'metrics test', 'queued',
                 wagate_status_rank('queued'), c.created_at, c.created_at
            FROM generate_series(1, {count}) i
           CROSS JOIN LATERAL (SELECT now() - CASE WHEN random() < {recent_share}
                                                   THEN random() * interval '10 minutes'
                                                   ELSE random() * interval '{max_age_s} seconds' END
                                      + i * interval '0 seconds' AS created_at) c
          RETURNING message_sid, tenant_id, id, created_at)
        INSERT INTO message_index (message_sid, tenant_id, message_id, created_at)
        SELECT message_sid, tenant_id, id, created_at FROM ins
        RETURNING message_sid""")
    return [line for line in out.splitlines() if line.startswith("SM")]  # not the command tag


def callback_plan(sid):
    """The callbacks one message gets, in the order they are posted."""
    roll = RANDOM.random()
    code = RANDOM.choice(ERROR_CODES)
    if roll < 0.40:
        plan = [("sent", None), ("delivered", None), ("read", None)]
    elif roll < 0.65:
        plan = [("sent", None), ("delivered", None)]
    elif roll < 0.78:
        plan = [("sent", None)]
    elif roll < 0.86:
        plan = [("sent", None), ("failed", code)]
    elif roll < 0.92:
        plan = [("sent", None), ("undelivered", code)]
    else:
        plan = []  # stays queued
    if len(plan) > 1 and RANDOM.random() < 0.2:
        RANDOM.shuffle(plan)  # out of order: a late 'sent' must not undo anything
    if plan and RANDOM.random() < 0.15:
        plan.append(RANDOM.choice(plan))  # a duplicate
    return [(sid, status, code) for status, code in plan]


def post_callbacks(callbacks_by_message):
    def post_all(callbacks):
        for sid, status, code in callbacks:
            params = [("AccountSid", ACCOUNT), ("ApiVersion", "2010-04-01"), ("ChannelPrefix", "whatsapp"),
                      ("From", SENDERS[0]), ("MessageSid", sid), ("MessageStatus", status), ("SmsSid", sid),
                      ("SmsStatus", status), ("To", "whatsapp:+15005550006")]
            if code is not None:
                params.append(("ErrorCode", str(code)))
            answer, _, body = GW.post_signed(STATUS, params)
            if answer != 200:
                raise AssertionError(f"callback {sid} {status}: {answer} {body[:200]!r}")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(post_all, callbacks) for callbacks in callbacks_by_message]:
            future.result()


# ---- the same numbers, by brute force ----

def load_messages(tenant):
    out = psql(DSN, f"SELECT (extract(epoch FROM created_at) * 1000000)::bigint, coalesce(from_addr, ''), status, "
                    f"coalesce(error_code, 0), coalesce(delivery_ms::text, '') FROM messages "
                    f"WHERE tenant_id = {tenant} AND direction = 'outbound'")
    rows = []
    for line in out.splitlines():
        created, sender, status, code, ms = line.split("|")
        rows.append((int(created), sender, status, int(code), int(ms) if ms else None))
    return rows


def outcomes(rows):
    by = collections.Counter(r[2] for r in rows)
    delivered = by["delivered"] + by["read"]
    failed = by["failed"] + by["undelivered"]
    final = delivered + failed
    return {
        "messages": len(rows),
        "by_status": {s: n for s, n in by.items() if n},
        "delivered": delivered,
        "read": by["read"],
        "failed": failed,
        "in_flight": len(rows) - final - by["canceled"],
        "rates": {"delivery": delivered / final if final else None,
                  "read": by["read"] / delivered if delivered else None,
                  "failure": failed / final if final else None},
    }


def expected(all_rows, start, end, granularity, sender=None):
    rows = [r for r in all_rows if start <= r[0] < end and (sender is None or r[1] == sender)]
    result = {"from": iso(start), "to": iso(end), "granularity": granularity, "sender": sender}
    result.update(outcomes(rows))
    times = sorted(r[4] for r in rows if r[4] is not None)
    n = len(times)

    def at(p):
        return times[max(1, (p * n + 99) // 100) - 1] if n else None
    result["delivery_time_ms"] = {"count": n, "avg": sum(times) / n if n else None, "min": times[0] if n else None,
                                  "p50": at(50), "p90": at(90), "p95": at(95), "p99": at(99),
                                  "max": times[-1] if n else None}
    errors = collections.Counter(r[3] for r in rows if r[2] in ("failed", "undelivered"))
    ordered = sorted(errors.items(), key=lambda e: (-e[1], e[0] == 0, e[0]))
    result["errors"] = [{"code": code or None, "count": count} for code, count in ordered]
    unit = HOUR if granularity == "hour" else DAY
    series = []
    begin = start
    while begin < end:
        finish = min(end, begin - begin % unit + unit)
        point = {"start": iso(begin), "end": iso(finish)}
        point.update(outcomes([r for r in rows if begin <= r[0] < finish]))
        series.append(point)
        begin = finish
    result["series"] = series
    return result


class Windows:
    """The windows every comparison covers: edges inside hours, whole days, one sender, a sliver."""

    @staticmethod
    def all(now):
        day0 = now - now % DAY
        return [
            {},  # the default: the last 24 hours, hourly
            {"from": iso(now - 3 * DAY - 1234567), "to": iso(now + HOUR), "granularity": "hour"},
            {"from": iso(now - 3 * DAY - 1234567), "to": iso(now + HOUR), "granularity": "day"},
            {"from": iso(day0 - 3 * DAY), "to": iso(day0 + DAY)},
            {"from": iso(day0 - 2 * DAY + 7 * HOUR), "to": iso(day0 + DAY), "sender": SENDERS[1]},
            {"from": iso(now - 20 * 60 * 1000000), "to": iso(now + 1)},
            # Edges covering most of their hour: the hour's rollup minus the rest.
            {"from": iso(day0 - 2 * DAY + 5 * HOUR + 10 * MINUTE), "to": iso(day0 - DAY + 9 * HOUR + 50 * MINUTE),
             "granularity": "hour"},
            {"from": iso(day0 - DAY + 3 * HOUR + 7 * MINUTE), "to": iso(day0 - DAY + 3 * HOUR + 51 * MINUTE)},
        ]


class DeliveryMetrics(unittest.TestCase):
    maxDiff = None

    def assert_exact(self, tenant, key=KEY, label=""):
        rows = load_messages(tenant)
        now = now_micros()
        for params in Windows.all(now):
            with self.subTest(label=label, params=params):
                status, body = get_metrics(key, **params)
                self.assertEqual(status, 200, body)
                start, end = parse_iso(body["from"]), parse_iso(body["to"])
                if "from" in params:
                    self.assertEqual((start, end), (parse_iso(params["from"]), parse_iso(params["to"])))
                else:
                    self.assertEqual(end - start, DAY)
                    self.assertLessEqual(abs(end - now), 60 * 1000000)
                granularity = params.get("granularity", "hour" if end - start <= 2 * DAY else "day")
                want = expected(rows, start, end, granularity, params.get("sender"))
                for error in body["errors"]:
                    description = error.pop("description")
                    if error["code"] in (63016, 30003):
                        self.assertIsInstance(description, str)
                self.assertEqual(body, want)
        return rows

    def test_exact_and_fresh_through_every_phase(self):
        local = int(tenant_id(DSN, "local"))
        sids = insert_messages(local, 2500, 70 * 3600)
        self.assertEqual(len(sids), 2500)
        post_callbacks([callback_plan(sid) for sid in sids])
        psql(DSN, "DELETE FROM metrics_rollup_state")  # as before the job ever ran: the messages alone

        rows = self.assert_exact(local, label="never rolled up")
        self.assertGreater(sum(1 for r in rows if r[4] is not None), 1000)
        self.assertGreater(sum(1 for r in rows if r[2] == "failed"), 50)

        self.assertIn("full=true", maint_job(ENV, "rollup"))
        self.assert_exact(local, label="rolled up")

        # Late changes the job has not seen: reads of delivered messages,
        # failures of sent ones, new messages and their callbacks, an
        # operator's direct update and delete.
        delivered = psql(DSN, f"SELECT message_sid FROM messages WHERE tenant_id = {local} AND status = 'delivered' "
                              f"ORDER BY message_sid LIMIT 150").split()
        sent = psql(DSN, f"SELECT message_sid FROM messages WHERE tenant_id = {local} AND status = 'sent' "
                         f"ORDER BY message_sid LIMIT 60").split()
        late = [[(sid, "read", None), (sid, "sent", None)] for sid in delivered]
        late += [[(sid, "undelivered", RANDOM.choice(ERROR_CODES))] for sid in sent]
        fresh = insert_messages(local, 200, 3600, recent_share=0.8)
        late += [callback_plan(sid) for sid in fresh]
        post_callbacks(late)
        psql(DSN, f"UPDATE messages SET delivery_ms = 4242 WHERE tenant_id = {local} AND message_sid IN "
                  f"(SELECT message_sid FROM messages WHERE tenant_id = {local} AND delivery_ms IS NOT NULL "
                  f"ORDER BY message_sid DESC LIMIT 7)")
        psql(DSN, f"DELETE FROM messages WHERE tenant_id = {local} AND message_sid IN "
                  f"(SELECT message_sid FROM messages WHERE tenant_id = {local} AND status = 'read' "
                  f"ORDER BY created_at LIMIT 5)")
        self.assert_exact(local, label="late changes not rolled up")

        # One callback shows at once.
        sid = psql(DSN, f"SELECT message_sid FROM messages WHERE tenant_id = {local} AND status = 'delivered' "
                        f"AND created_at > now() - interval '20 hours' LIMIT 1")
        window = {"from": iso(now_micros() - 23 * HOUR), "to": iso(now_micros() + HOUR)}
        _, before = get_metrics(**window)
        post_callbacks([[(sid, "read", None)]])
        _, after = get_metrics(**window)
        self.assertEqual(after["by_status"]["read"], before["by_status"]["read"] + 1)
        self.assertEqual(after["by_status"].get("delivered", 0), before["by_status"]["delivered"] - 1)

        log = maint_job(ENV, "rollup")
        self.assertIn("full=false", log)
        self.assert_exact(local, label="caught up")
        maint_job(ENV, "rollup")
        self.assert_exact(local, label="nothing changed")
        self.assertEqual(psql(DSN, "SELECT count(*) FROM metrics_dirty_hours"), "0")

    def test_tenants_see_only_their_own(self):
        name = add_tenant(ENV, "metrics", SENDERS[0])
        other_key = admin(ENV, "key", "create", "--tenant", name, "--scopes", "read").stdout.strip()
        other = int(tenant_id(DSN, name))

        status, body = get_metrics(other_key)
        self.assertEqual(status, 200)
        self.assertEqual((body["messages"], body["by_status"], body["errors"]), (0, {}, []))
        self.assertTrue(all(point["messages"] == 0 for point in body["series"]))

        insert_messages(other, 40, 20 * 3600)
        psql(DSN, f"UPDATE messages SET status = 'failed', status_rank = wagate_status_rank('failed'), "
                  f"error_code = 63049 WHERE tenant_id = {other}")
        maint_job(ENV, "rollup")
        self.assert_exact(other, key=other_key, label="other tenant")
        _, mine = get_metrics()
        self.assertNotIn(63049, [e["code"] for e in mine["errors"]])
        self.assert_exact(int(tenant_id(DSN, "local")), label="local beside another tenant")

    def test_keys_and_scopes(self):
        status, body = get_metrics(None)
        self.assertEqual(status, 401)
        send_only = admin(ENV, "key", "create", "--tenant", "local", "--scopes", "send").stdout.strip()
        status, body = get_metrics(send_only)
        self.assertEqual(status, 403)
        self.assertEqual(body["error"]["code"], "forbidden")

    def test_bad_parameters_are_400_naming_the_field(self):
        cases = [
            ({"from": "yesterday"}, "from"),
            ({"to": "2024-02-30"}, "to"),
            ({"from": "2024-05-02T00:00:00Z", "to": "2024-05-01T00:00:00Z"}, "to"),
            ({"from": "2024-01-01T00:00:00Z", "to": "2024-05-01T00:00:00Z"}, "from"),
            ({"granularity": "minute"}, "granularity"),
            ({"sender": "not a number"}, "sender"),
            ({"limit": "10"}, "limit"),
        ]
        for params, field in cases:
            with self.subTest(params=params):
                status, body = get_metrics(**params)
                self.assertEqual(status, 400, body)
                self.assertEqual(body["error"]["code"], "invalid_parameter")
                self.assertEqual(body["error"]["field"], field)
                self.assertTrue(body["error"]["message"])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[1:], verbosity=2)
