"""send_flow_test.py — a message's whole life through the real stack: send API, queue, sender, Twilio simulator, callbacks.

Each test talks to a fresh recipient number whose last digits choose the
simulator's scenario (docs/simulator.md), so the tests share one stack.
"""
import json
import os
import random
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from twilio_client import Gateway, new_sid, psql, stack_env  # noqa: E402

ENV = stack_env()
GW = Gateway(ENV)
DSN = ENV["WAGATE_PG_DSN"]
SIM = ENV["WAGATE_SIM_URL"]
BIN = os.path.join(os.environ["WAGATE_BUILD_DIR"], "bin")
STACK = [os.path.join(os.environ["WAGATE_SOURCE_DIR"], "scripts", "stack")]
SENDER = "whatsapp:+14155238886"  # the local tenant's number (scripts/stack)
OPTED_OUT_ERROR = "not sent: the recipient opted out (STOP) after the message was accepted"
CANCELED_METRIC = 'wagate_sends_total{process="wagate-sender",outcome="canceled_opted_out"}'
USED_AREAS = set()


def number(scenario):
    """+1 AAA 555 01NN: scenario NN, an area code no other test uses."""
    while True:
        area = random.randint(200, 989)
        if area not in USED_AREAS:
            USED_AREAS.add(area)
            return f"+1{area}55501{scenario:02d}"


def sim(path, body=None):
    req = urllib.request.Request(SIM + path, data=json.dumps(body).encode() if body is not None else None,
                                 method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def open_window(phone):
    out = sim("/sim/inbound", {"account_sid": ENV["TWILIO_ACCOUNT_SID"], "from": "whatsapp:" + phone,
                               "to": "whatsapp:+14155238886", "body": "hello"})
    assert out["status"] == 200, out


def send(phone, **fields):
    body = {"to": phone, "body": "hi from the tests"}
    body.update(fields)
    status, _, raw = GW.request("POST", "/api/v1/whatsapp/send", json.dumps(body).encode(),
                                {"Authorization": "Bearer " + ENV["WAGATE_API_KEY"],
                                 "Content-Type": "application/json"})
    assert status == 202, (status, raw)
    return json.loads(raw)["id"]


def row(msg_id, cols="status"):
    return psql(DSN, f"SELECT {cols} FROM messages WHERE id = '{msg_id}'")


def wait_status(msg_id, want, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if row(msg_id) in want:
            return row(msg_id)
        time.sleep(0.2)
    state = row(msg_id, "status || ' ' || coalesce(error_code::text, '-') || ' attempts=' || attempts")
    raise AssertionError(f"message {msg_id} stayed {state}, wanted {want}")


def history(msg_id):
    sid = row(msg_id, "message_sid")
    return psql(DSN, f"SELECT string_agg(status, ',' ORDER BY event_id) FROM status_events WHERE message_sid = '{sid}'")


def post_inbound(phone, body):
    """A signed inbound WhatsApp message from the contact, as Twilio posts it."""
    sid = new_sid()
    params = [("AccountSid", ENV["TWILIO_ACCOUNT_SID"]), ("ApiVersion", "2010-04-01"), ("Body", body),
              ("From", "whatsapp:" + phone), ("MessageSid", sid), ("NumMedia", "0"), ("ProfileName", "Ana"),
              ("SmsMessageSid", sid), ("SmsSid", sid), ("SmsStatus", "received"), ("To", SENDER),
              ("WaId", phone[1:])]
    status, _, raw = GW.post_signed("/api/v1/whatsapp/webhook", params)
    assert status == 200, (status, raw)


def get_message(msg_id):
    status, _, raw = GW.request("GET", "/api/v1/whatsapp/messages/" + msg_id, b"",
                                {"Authorization": "Bearer " + ENV["WAGATE_API_KEY"]})
    assert status == 200, (status, raw)
    return json.loads(raw)


def scraped(series):
    """The series' value on the local /metrics listener, 0 when absent."""
    with urllib.request.urlopen(ENV["WAGATE_METRICS_URL"], timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
    return 0.0


def creates_for(phone):
    return sim("/sim/messages?to=whatsapp:" + urllib.request.quote(phone))["messages"]


def maint(job):
    subprocess.run([os.path.join(BIN, "wagate-maint"), "run", "--once", "--job", job, "--config", ENV["WAGATE_CONFIG"]],
                   check=True, capture_output=True, timeout=120)


class Delivery(unittest.TestCase):
    def test_delivered_and_read_in_order(self):
        phone = number(0)
        open_window(phone)
        msg = send(phone)
        wait_status(msg, {"read"})
        self.assertEqual(history(msg), "sent,delivered,read")
        self.assertEqual(row(msg, "sent_at IS NOT NULL AND delivered_at IS NOT NULL AND read_at IS NOT NULL "
                                  "AND delivery_ms > 0 AND attempts = 1"), "t")
        self.assertEqual(len(creates_for(phone)), 1)

    def test_out_of_order_and_duplicated_callbacks(self):
        for scenario, want in ((2, {"read"}), (3, {"read"}), (4, {"read"})):
            phone = number(scenario)
            open_window(phone)
            msg = send(phone)
            wait_status(msg, want)
            events = history(msg).split(",")
            self.assertEqual(sorted(set(events)), sorted(events), f"scenario {scenario}: events stored once")
            self.assertIn("read", events)

    def test_template_outside_window_reaches_twilio(self):
        phone = number(1)
        msg = send(phone, body=None, content_sid="HX" + "a" * 32, content_variables={"1": "Ana"})
        wait_status(msg, {"delivered"})
        params = creates_for(phone)[0]["params"]
        self.assertEqual(params["ContentSid"], "HX" + "a" * 32)
        self.assertTrue(params["StatusCallback"].endswith("/api/v1/whatsapp/status"))


class Failures(unittest.TestCase):
    def test_failure_callbacks_carry_twilio_codes(self):
        for scenario, code in ((5, "63016"), (6, "63024"), (7, "30003"), (8, "30007")):
            phone = number(scenario)
            open_window(phone)
            msg = send(phone)
            wait_status(msg, {"failed"})
            self.assertEqual(row(msg, "error_code"), code)
            self.assertEqual(len(creates_for(phone)), 1, "a failed message is not re-sent")

    def test_undelivered_then_failed_keeps_both(self):
        phone = number(10)
        open_window(phone)
        msg = send(phone)
        wait_status(msg, {"failed"})
        self.assertIn("undelivered", history(msg))

    def test_api_4xx_fails_at_once_without_retry(self):
        phone = number(11)
        open_window(phone)
        msg = send(phone)
        wait_status(msg, {"failed"})
        self.assertEqual(row(msg, "error_code"), "21211")
        self.assertEqual(row(msg, "message_sid IS NULL"), "t")
        time.sleep(2)
        self.assertEqual(len(creates_for(phone)), 1)

    def test_429_is_retried_with_backoff_until_accepted(self):
        phone = number(12)
        open_window(phone)
        msg = send(phone)
        wait_status(msg, {"delivered", "read"}, seconds=60)
        self.assertEqual([c["http_status"] for c in creates_for(phone)], [429, 429, 201])
        self.assertEqual(row(msg, "attempts"), "3")

    def test_503_once_is_retried(self):
        phone = number(13)
        open_window(phone)
        msg = send(phone)
        wait_status(msg, {"delivered", "read"}, seconds=60)
        self.assertEqual([c["http_status"] for c in creates_for(phone)], [503, 201])

    def test_timeout_is_unknown_then_reconciled_never_resent(self):
        phone = number(14)
        open_window(phone)
        msg = send(phone)
        wait_status(msg, {"unknown"}, seconds=40)
        maint("reconcile")
        self.assertNotIn(row(msg), {"unknown", "dispatching", "accepted", "retrying"})
        self.assertEqual(row(msg, "message_sid"), creates_for(phone)[0]["sid"])
        time.sleep(2)
        self.assertEqual(len(creates_for(phone)), 1, "an unknown outcome is reconciled, never re-sent")


class OptOut(unittest.TestCase):
    def test_recipient_who_opts_out_after_acceptance_gets_nothing(self):
        # The sender is stopped so that every message is accepted and waits
        # in the queue while its recipient answers STOP.
        subprocess.run(STACK + ["stop", "sender"], check=True, capture_output=True)
        try:
            stopped, retried, back, control = (number(0) for _ in range(4))
            for phone in (stopped, retried, back, control):
                open_window(phone)
            ids = {phone: send(phone) for phone in (stopped, retried, back, control)}
            # As if its first request had got a 429: a retry due now goes
            # through the same claim.
            psql(DSN, "UPDATE messages SET status = 'retrying', status_rank = wagate_status_rank('retrying'), "
                      f"attempts = 1, next_attempt_at = now() WHERE id = '{ids[retried]}'")
            for phone in (stopped, retried, back):
                post_inbound(phone, "STOP")
            post_inbound(back, "START")  # opted back in before the sender got to it: sent as usual
            canceled_before = scraped(CANCELED_METRIC)
        finally:
            subprocess.run(STACK + ["up"], check=True, capture_output=True, timeout=120)

        wait_status(ids[control], {"read"})
        wait_status(ids[back], {"read"})
        for phone, attempts in ((stopped, "0"), (retried, "1")):
            msg = ids[phone]
            wait_status(msg, {"canceled"})
            self.assertEqual(row(msg, "error_message"), OPTED_OUT_ERROR)
            self.assertEqual(row(msg, "attempts"), attempts, "no request was made, none is counted")
            self.assertEqual(row(msg, "message_sid IS NULL AND error_code IS NULL AND next_attempt_at IS NULL"), "t")
            view = get_message(msg)
            self.assertEqual(view["status"], "canceled")
            self.assertIsNone(view["message_sid"])
            self.assertEqual(view["error"]["message"], OPTED_OUT_ERROR)
            self.assertIsNone(view["error"]["code"])
            self.assertEqual(view["history"], [])
        deadline = time.time() + 20
        while scraped(CANCELED_METRIC) < canceled_before + 2 and time.time() < deadline:
            time.sleep(0.5)
        self.assertEqual(scraped(CANCELED_METRIC), canceled_before + 2)
        time.sleep(2)  # a sweep or a reclaim would have sent them by now
        self.assertEqual(creates_for(stopped), [], "Twilio never heard of a message to an opted-out recipient")
        self.assertEqual(creates_for(retried), [])
        self.assertEqual(len(creates_for(back)), 1)
        self.assertEqual(row(ids[stopped], "status"), "canceled")


class Crashes(unittest.TestCase):
    def test_sender_killed_mid_batch_loses_nothing_and_sends_nothing_twice(self):
        phones = [number(15) for _ in range(60)]
        for p in phones:
            open_window(p)
        ids = [send(p) for p in phones]
        time.sleep(0.3)
        # This stack's sender only (its command line names its config):
        # other tests run senders from the same build at the same time.
        subprocess.run(["pkill", "-KILL", "-f", "wagate-sender --config " + ENV["WAGATE_CONFIG"]], check=True)
        subprocess.run(STACK + ["up"], check=True, capture_output=True, timeout=120)
        deadline = time.time() + 60
        while time.time() < deadline:
            left = psql(DSN, "SELECT count(*) FROM messages WHERE id IN (%s) AND status IN "
                             "('accepted', 'retrying', 'dispatching')" % ",".join(f"'{i}'" for i in ids))
            if left == "0":
                break
            time.sleep(0.5)
        maint("reconcile")  # anything the kill left unknown is resolved against the simulator
        for p, i in zip(phones, ids):
            self.assertEqual(len(creates_for(p)), 1, f"{p}: sent exactly once")
            self.assertEqual(row(i, "message_sid"), creates_for(p)[0]["sid"])

    def test_redis_restarted_empty_loses_nothing(self):
        subprocess.run(STACK + ["stop", "sender"], check=True, capture_output=True)
        phones = [number(15) for _ in range(10)]
        for p in phones:
            open_window(p)
        ids = [send(p) for p in phones]
        # The queue entries die with Redis's data; Postgres still has the rows.
        subprocess.run(STACK + ["stop", "redis"], check=True, capture_output=True)
        redis_dir = os.path.join(os.environ["WAGATE_RUN_DIR"], "redis")
        for name in os.listdir(redis_dir):
            path = os.path.join(redis_dir, name)
            if name.startswith(("appendonly", "dump")):
                subprocess.run(["rm", "-rf", path], check=True)
        subprocess.run(STACK + ["up"], check=True, capture_output=True, timeout=120)
        for p, i in zip(phones, ids):
            wait_status(i, {"queued", "sent", "delivered", "read"}, seconds=60)
            self.assertEqual(len(creates_for(p)), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
