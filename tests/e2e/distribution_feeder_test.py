"""distribution_feeder_test.py — distributions go out through the feeder, the sender and the Twilio simulator.

Run by distribution_feeder_test.sh against a stack it brought up. Each
recipient is checked at the simulator (GET /sim/messages): what it received,
and that it received it once.
"""
import datetime
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from twilio_client import (Gateway, add_tenant, admin, new_phone, psql, sim_messages, stack_env,  # noqa: E402
                           wait_until)

ENV = stack_env()
GW = Gateway(ENV)
DSN = ENV["WAGATE_PG_DSN"]
SIM = ENV["WAGATE_SIM_URL"]
KEY = ENV["WAGATE_API_KEY"]
BIN = os.path.join(os.environ["WAGATE_BUILD_DIR"], "bin")
STACK = [os.path.join(os.environ["WAGATE_SOURCE_DIR"], "scripts", "stack")]
PATH = "/api/v1/distributions"
SID = "HX" + "0123456789abcdef" * 2
KEYS = {}


def call(method, path, body=None, key=KEY):
    status, _, got = GW.api(method, path, body, key=key)
    return status, got

def sim_creates(phone):
    return [m for m in sim_messages(ENV, phone) if m["http_status"] == 201]

def inbound(phone, body):
    """A signed inbound webhook from phone: opens its 24-hour window (STOP also opts it out)."""
    GW.inbound(phone, body)

def iso(delta):
    return (datetime.datetime.now(datetime.timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def recipients(dist):
    status, got = call("GET", f"{PATH}/{dist}/recipients")
    assert status == 200, (status, got)
    return {r["phone"]: r for r in got["recipients"]}


def contacts(n, tag):
    return [{"phone": new_phone(), "name": f"{tag}-{i}", "variables": {"ref": f"{tag}{i:02d}"}} for i in range(n)]


def create(people, **extra):
    body = {"name": "feeder test", "content_sid": SID, "content_variables": {"1": "{{name}}", "2": "{{ref}}"},
            "contacts": people}
    body.update(extra)
    status, got = call("POST", PATH, body)
    assert status == 201, (status, got)
    assert got["recipients"]["accepted"] == len(people), got
    return got["id"]


def get(dist):
    status, got = call("GET", f"{PATH}/{dist}")
    assert status == 200, (status, got)
    return got


def sent_at_sim(people):
    return sum(len(sim_creates(p["phone"])) for p in people)


wait_for = wait_until

def assert_each_once(test, people):
    for p in people:
        creates = sim_creates(p["phone"])
        test.assertEqual(len(creates), 1, f"{p['phone']} received {len(creates)} messages")
        got = json.loads(creates[0]["params"]["ContentVariables"])
        test.assertEqual(got, {"1": p["name"], "2": p["variables"]["ref"]}, p["phone"])


def maint(job):
    subprocess.run([os.path.join(BIN, "wagate-maint"), "run", "--once", "--job", job, "--config", ENV["WAGATE_CONFIG"]],
                   check=True, capture_output=True, timeout=120)


def setUpModule():
    other = add_tenant(ENV, "feeder-other")
    KEYS["other"] = admin(ENV, "key", "create", "--tenant", other, "--scopes", "send,read").stdout.strip()


class Sending(unittest.TestCase):
    def test_every_recipient_once_with_its_own_rendering_paced(self):
        people = contacts(20, "all")
        dist = create(people, rate_per_second=10)
        wait_for("20 creates at the simulator", lambda: sent_at_sim(people) >= 20, 30)
        final = wait_for("completed and 20 sent", lambda: (lambda d: d if d["status"] == "completed"
                                                          and d["counts"]["sent"] == 20 else None)(get(dist)), 30)
        assert_each_once(self, people)
        self.assertEqual(final["counts"]["queued"], 20)
        self.assertEqual(final["counts"]["planned"], 20)
        self.assertEqual(final["counts"]["canceled"], 0)
        self.assertEqual(sent_at_sim(people), final["counts"]["sent"])
        # Paced: at 10/s no pass of the feeder made more than one interval's
        # worth (10, plus one for a carried fraction), so it took several.
        per_pass = psql(DSN, f"SELECT max(n) || ' ' || count(*) FROM (SELECT count(*) n FROM messages "
                             f"WHERE distribution_id = '{dist}' GROUP BY created_at) x").split()
        self.assertLessEqual(int(per_pass[0]), 11)
        self.assertGreaterEqual(int(per_pass[1]), 2)
        # The message view names its distribution.
        mid = psql(DSN, f"SELECT message_id FROM distribution_recipients WHERE distribution_id = '{dist}' LIMIT 1")
        status, msg = call("GET", f"/api/v1/whatsapp/messages/{mid}")
        self.assertEqual(status, 200, msg)
        self.assertEqual(msg["distribution_id"], dist)
        self.assertNotIn("campaign_id", msg)

    def test_body_is_rendered_per_recipient(self):
        people = contacts(3, "body")
        for p in people:
            inbound(p["phone"], "hello")  # a free-form body needs their 24-hour window open
        status, got = call("POST", PATH, {"name": "body", "body": "Hi {{name}}, ref {{ref}}", "contacts": people})
        self.assertEqual(status, 201, got)
        wait_for("3 creates", lambda: sent_at_sim(people) >= 3, 30)
        for p in people:
            creates = sim_creates(p["phone"])
            self.assertEqual(len(creates), 1)
            self.assertEqual(creates[0]["params"]["Body"], f"Hi {p['name']}, ref {p['variables']['ref']}")

    def test_pause_stops_within_a_second_and_resume_sends_the_rest_once(self):
        people = contacts(20, "pause")
        dist = create(people, rate_per_second=2)
        wait_for("a few sent", lambda: sent_at_sim(people) >= 3, 30)
        status, got = call("POST", f"{PATH}/{dist}/pause")
        self.assertEqual((status, got["status"]), (200, "paused"), got)
        # Messages already queued may still go (one interval's worth): wait
        # for them, then nothing more may come while it is paused.
        time.sleep(2.5)
        paused_at = sent_at_sim(people)
        time.sleep(3)
        self.assertEqual(sent_at_sim(people), paused_at, "sent while paused")
        self.assertLess(paused_at, 20)
        counts = get(dist)["counts"]
        self.assertEqual(counts["queued"], paused_at)
        self.assertEqual(get(dist)["status"], "paused")
        status, got = call("POST", f"{PATH}/{dist}/pause")
        self.assertEqual((status, got["error"]["code"]), (409, "invalid_transition"), got)
        self.assertEqual(psql(DSN, f"SELECT breaker_since IS NULL FROM distributions WHERE id = '{dist}'"), "t")
        status, got = call("POST", f"{PATH}/{dist}/resume")
        self.assertEqual((status, got["status"]), (200, "running"), got)
        # The circuit breaker judges only what comes after the resume.
        self.assertEqual(psql(DSN, f"SELECT breaker_since > now() - interval '1 minute' FROM distributions "
                                   f"WHERE id = '{dist}'"), "t")
        wait_for("all 20 sent", lambda: sent_at_sim(people) >= 20, 60)
        wait_for("completed", lambda: get(dist)["status"] == "completed", 10)
        assert_each_once(self, people)
        status, got = call("POST", f"{PATH}/{dist}/resume")
        self.assertEqual((status, got["error"]["code"]), (409, "invalid_transition"), got)

    def test_cancel_cancels_the_rest_and_nothing_more_is_sent(self):
        people = contacts(20, "cancel")
        dist = create(people, rate_per_second=2)
        wait_for("a few sent", lambda: sent_at_sim(people) >= 2, 30)
        status, got = call("POST", f"{PATH}/{dist}/cancel")
        self.assertEqual((status, got["status"]), (200, "canceled"), got)
        self.assertGreater(got["canceled"], 0)
        time.sleep(3)
        at_sim = sent_at_sim(people)
        time.sleep(2)
        self.assertEqual(sent_at_sim(people), at_sim, "sent after cancel")
        d = get(dist)
        self.assertEqual(d["status"], "canceled")
        # Every recipient either reached Twilio or is canceled, none both.
        self.assertEqual(d["counts"]["canceled"] + at_sim, 20, d["counts"])
        for p in people:
            self.assertLessEqual(len(sim_creates(p["phone"])), 1)
        status, got = call("POST", f"{PATH}/{dist}/cancel")
        self.assertEqual((status, got["error"]["code"]), (409, "invalid_transition"), got)

    def test_recipient_outside_its_window_waits_while_others_go(self):
        # A one-hour window around the current time in UTC+6: a contact there
        # is inside it, a contact in UTC (six hours earlier) is not.
        now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=6)
        start = (now - datetime.timedelta(minutes=30)).strftime("%H:%M")
        end = (now + datetime.timedelta(minutes=30)).strftime("%H:%M")
        inside = {"phone": new_phone(), "name": "in", "variables": {"ref": "i"}, "timezone": "Asia/Dhaka"}
        outside = {"phone": new_phone(), "name": "out", "variables": {"ref": "o"}, "timezone": "Etc/UTC"}
        nowhere = {"phone": new_phone(), "name": "bad", "variables": {"ref": "b"}, "timezone": "Mars/Olympus"}
        dist = create([inside, outside, nowhere], send_window={"start": start, "end": end})
        wait_for("the contact inside its window is sent", lambda: sent_at_sim([inside]) == 1, 30)
        time.sleep(2)
        self.assertEqual(sent_at_sim([outside]), 0)
        self.assertEqual(sent_at_sim([nowhere]), 0)
        d = get(dist)
        self.assertEqual(d["status"], "running")  # one still waits for its window
        self.assertEqual(d["counts"]["skipped"], 1)
        self.assertEqual(d["counts"]["queued"], 1)
        status, got = call("GET", f"{PATH}/{dist}/recipients")
        by_phone = {r["phone"]: r for r in got["recipients"]}
        self.assertEqual(by_phone[outside["phone"]]["status"], "planned")
        self.assertEqual(by_phone[nowhere["phone"]]["status"], "skipped")
        self.assertIn("Mars/Olympus", json.dumps(by_phone[nowhere["phone"]]["error"]))
        call("POST", f"{PATH}/{dist}/cancel")

    def test_window_math_spans_midnight(self):
        cases = {("23:30", "22:00", "06:00"): "t", ("05:59", "22:00", "06:00"): "t", ("06:00", "22:00", "06:00"): "f",
                 ("12:00", "22:00", "06:00"): "f", ("09:00", "09:00", "20:00"): "t", ("20:00", "09:00", "20:00"): "f",
                 ("08:59", "09:00", "20:00"): "f"}
        for (local, start, end), want in cases.items():
            got = psql(DSN, f"SELECT wagate_in_send_window('{local}', '{start}', '{end}')")
            self.assertEqual(got, want, (local, start, end))

    def test_send_at_ahead_stays_scheduled_and_resume_keeps_it_so(self):
        later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        people = contacts(2, "later")
        dist = create(people, send_at=later)
        time.sleep(2)
        self.assertEqual(get(dist)["status"], "scheduled")
        self.assertEqual(sent_at_sim(people), 0)
        self.assertEqual(call("POST", f"{PATH}/{dist}/pause")[0], 200)
        status, got = call("POST", f"{PATH}/{dist}/resume")
        self.assertEqual((status, got["status"]), (200, "scheduled"), got)
        call("POST", f"{PATH}/{dist}/cancel")

    def test_another_tenants_distribution_is_404(self):
        dist = create(contacts(1, "wall"), send_at="2099-01-01")
        for action in ("pause", "resume", "cancel"):
            status, got = call("POST", f"{PATH}/{dist}/{action}", key=KEYS["other"])
            self.assertEqual((status, got["error"]["code"]), (404, "not_found"), action)
        self.assertEqual(call("POST", f"{PATH}/not-a-uuid/pause")[0], 404)
        self.assertEqual(get(dist)["status"], "scheduled")

    def test_sender_killed_mid_campaign_sends_every_recipient_once(self):
        people = contacts(20, "kill")
        dist = create(people, rate_per_second=5)
        wait_for("a few sent", lambda: sent_at_sim(people) >= 3, 30)
        # This stack's sender only: its pid file in this run directory.
        with open(os.path.join(os.environ["WAGATE_RUN_DIR"], "pids", "sender.pid")) as f:
            os.kill(int(f.read().strip()), signal.SIGKILL)
        time.sleep(0.5)
        subprocess.run(STACK + ["up"], check=True, capture_output=True, timeout=120)
        wait_for("completed", lambda: get(dist)["status"] == "completed", 60)

        def settled():
            left = psql(DSN, f"SELECT count(*) FROM messages WHERE distribution_id = '{dist}' "
                             "AND status IN ('accepted', 'retrying', 'dispatching', 'unknown')")
            if left != "0":
                maint("reconcile")  # a kill mid-request leaves it unknown: resolved against the simulator
            return left == "0"
        wait_for("every message settled", settled, 90)
        assert_each_once(self, people)
        wait_for("counts match the simulator", lambda: get(dist)["counts"]["sent"] == 20, 30)


class WhatsAppRules(unittest.TestCase):
    def test_body_goes_only_to_contacts_inside_their_24_hour_window(self):
        talked = {"phone": new_phone(), "name": "Ana"}
        silent = {"phone": new_phone(), "name": "Bea"}
        inbound(talked["phone"], "hi there")
        status, got = call("POST", PATH, {"name": "window", "body": "Hi {{name}}", "contacts": [talked, silent]})
        self.assertEqual(status, 201, got)
        dist = got["id"]
        wait_for("completed", lambda: get(dist)["status"] == "completed", 30)
        wait_for("the contact inside the window is sent", lambda: sent_at_sim([talked]) == 1, 30)
        self.assertEqual(sim_creates(talked["phone"])[0]["params"]["Body"], "Hi Ana")
        self.assertEqual(sent_at_sim([silent]), 0)
        got = recipients(dist)
        self.assertEqual(got[silent["phone"]]["status"], "skipped")
        self.assertTrue(got[silent["phone"]]["error"]["message"].startswith("outside_session_window:"),
                        got[silent["phone"]]["error"])
        self.assertIsNone(got[silent["phone"]]["message_id"])
        counts = wait_for("sent counted", lambda: (lambda c: c if c["sent"] == 1 else None)(get(dist)["counts"]), 30)
        self.assertEqual((counts["planned"], counts["queued"], counts["skipped"]), (2, 1, 1), counts)

    def test_stop_after_planning_is_not_sent(self):
        stays, stops = contacts(1, "stays")[0], contacts(1, "stops")[0]
        dist = create([stays, stops], send_at=iso(datetime.timedelta(seconds=8)))
        # Paused before its send_at (nothing fed yet), so the STOP surely
        # comes between planning and feeding.
        status, got = call("POST", f"{PATH}/{dist}/pause")
        self.assertEqual((status, get(dist)["counts"]["queued"]), (200, 0), got)
        inbound(stops["phone"], "STOP")
        self.assertEqual(call("POST", f"{PATH}/{dist}/resume")[0], 200)
        wait_for("completed", lambda: get(dist)["status"] == "completed", 40)
        wait_for("the other contact is sent", lambda: sent_at_sim([stays]) == 1, 30)
        self.assertEqual(sent_at_sim([stops]), 0)
        got = recipients(dist)[stops["phone"]]
        self.assertEqual(got["status"], "skipped")
        self.assertTrue(got["error"]["message"].startswith("recipient_opted_out:"), got["error"])
        self.assertEqual(get(dist)["counts"]["skipped"], 1)

    def test_expires_at_is_sent_as_validity_period(self):
        people = contacts(2, "valid")
        dist = create(people, expires_at=iso(datetime.timedelta(hours=1)))
        wait_for("both sent", lambda: sent_at_sim(people) >= 2, 30)
        for p in people:
            validity = int(sim_creates(p["phone"])[0]["params"]["ValidityPeriod"])
            # The seconds left at feed time: just under an hour.
            self.assertLessEqual(validity, 3600, p["phone"])
            self.assertGreaterEqual(validity, 3600 - 60, p["phone"])
        stored = psql(DSN, f"SELECT min(validity_period_s) || ' ' || max(validity_period_s) FROM messages "
                           f"WHERE distribution_id = '{dist}'").split()
        self.assertTrue(all(3540 <= int(v) <= 3600 for v in stored), stored)
        # Beyond Twilio's 10-hour maximum, the maximum.
        far = contacts(1, "far")
        create(far, expires_at=iso(datetime.timedelta(days=2)))
        wait_for("sent", lambda: sent_at_sim(far) >= 1, 30)
        self.assertEqual(sim_creates(far[0]["phone"])[0]["params"]["ValidityPeriod"], "36000")
        # Without expires_at, no ValidityPeriod: Twilio's default.
        plain = contacts(1, "plain")
        create(plain)
        wait_for("sent", lambda: sent_at_sim(plain) >= 1, 30)
        self.assertNotIn("ValidityPeriod", sim_creates(plain[0]["phone"])[0]["params"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
