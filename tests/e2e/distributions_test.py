"""distributions_test.py — POST/GET /api/v1/distributions through nginx against a real stack.

Run by distributions_test.sh against a stack it brought up (WAGATE_RUN_DIR set).
The opted-out contact is made the way production makes it: a signed inbound
STOP through nginx.
"""
import json
import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from twilio_client import (LOCAL_SENDER as SENDER, Gateway, add_tenant, admin, new_phone, new_sid,  # noqa: E402
                           psql, stack_env)

ENV = stack_env()
GW = Gateway(ENV)
DSN = ENV["WAGATE_PG_DSN"]
KEY = ENV["WAGATE_API_KEY"]
PATH = "/api/v1/distributions"
SID = "HX" + "0123456789abcdef" * 2
LATER = "2099-01-01T00:00:00Z"
KEYS = {}


def call(method, path, body=None, key=KEY, headers=None):
    return GW.api(method, path, body, key=key, headers=headers)

def opt_out(phone):
    GW.inbound(phone, "STOP", to=SENDER)

def campaign(contacts, **extra):
    body = {"name": "spring survey", "content_sid": SID,
            "content_variables": {"1": "{{name}}", "2": "{{link}}"},
            "link": "https://survey.example/s/42?r={{ref}}", "contacts": contacts}
    body.update(extra)
    return body


def setUpModule():
    other = add_tenant(ENV, "dist-other")
    KEYS["other"] = admin(ENV, "key", "create", "--tenant", other, "--scopes", "send,read").stdout.strip()
    KEYS["read_only"] = admin(ENV, "key", "create", "--tenant", "local", "--scopes", "read").stdout.strip()


class CreateAndRead(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ana, cls.bea, cls.stop, cls.cid = new_phone(), new_phone(), new_phone(), new_phone()
        opt_out(cls.stop)
        cls.contacts = [
            {"phone": cls.ana, "name": "Ana", "variables": {"ref": "a1"}},
            {"phone": cls.ana[2:], "name": "Ana again", "variables": {"ref": "a2"}},  # national form: a duplicate
            {"phone": "12345", "name": "Short", "variables": {"ref": "x"}},
            {"phone": cls.stop, "name": "Stop", "variables": {"ref": "s"}},
            {"phone": cls.cid, "name": "Cid"},  # no ref: the link cannot be rendered
            {"phone": cls.bea, "name": "Bea", "variables": {"ref": "b2"}, "timezone": "Europe/Lisbon"},
        ]
        cls.key = "dist-" + new_sid()
        # send_at far ahead: the feeder leaves it scheduled, its recipients planned.
        cls.status, cls.headers, cls.body = call("POST", PATH, campaign(cls.contacts, send_at=LATER),
                                                 headers={"Idempotency-Key": cls.key})
        # Read before test_funnel_follows_the_messages moves the recipients on.
        cls.fresh_status, _, cls.fresh = call("GET", PATH + "/" + cls.body["id"])

    def test_201_counts_add_up(self):
        self.assertEqual(self.status, 201, self.body)
        rec = self.body["recipients"]
        self.assertEqual((rec["accepted"], rec["duplicates"], rec["opted_out"]), (2, 1, 1), rec)
        self.assertEqual([(i["index"], i["phone"]) for i in rec["invalid"]], [(2, "12345"), (4, self.cid)])
        self.assertIn("phone", rec["invalid"][0]["error"])
        self.assertEqual(rec["invalid"][1]["error"], "no variable for {{ref}}")
        total = rec["accepted"] + rec["duplicates"] + rec["opted_out"] + len(rec["invalid"])
        self.assertEqual(total, len(self.contacts))
        self.assertEqual(self.body["status"], "scheduled")
        self.assertEqual(self.headers.get("Location"), PATH + "/" + self.body["id"])

    def test_rows_hold_each_recipients_rendering_and_link(self):
        dist = self.body["id"]
        rows = [line.split("|") for line in psql(
            DSN, f"SELECT r.phone, r.name, r.content_variables::text, l.target_url, l.token "
                 f"FROM distribution_recipients r JOIN distribution_links l ON l.recipient_id = r.id "
                 f"AND l.token = r.link_token WHERE r.distribution_id = '{dist}' ORDER BY r.id").splitlines()]
        self.assertEqual([(r[0], r[1], r[3]) for r in rows],
                         [(self.ana, "Ana", "https://survey.example/s/42?r=a1"),  # the first occurrence's
                          (self.bea, "Bea", "https://survey.example/s/42?r=b2")])
        for phone, name, variables, _, token in rows:
            self.assertEqual(len(token), 22)
            self.assertEqual(json.loads(variables), {"1": name, "2": ENV["WAGATE_URL"] + "/l/" + token})

    def test_get_shows_the_funnel(self):
        status, got = self.fresh_status, self.fresh
        self.assertEqual(status, 200, got)
        self.assertEqual(got["name"], "spring survey")
        self.assertEqual(got["status"], "scheduled")
        self.assertEqual(got["counts"], {"planned": 2, "queued": 0, "sent": 0, "delivered": 0, "read": 0,
                                         "failed": 0, "undelivered": 0, "clicked": 0, "replied": 0,
                                         "skipped": 0, "canceled": 0})
        self.assertEqual(got["errors"], [])
        # Nothing priced, and no price history to estimate from.
        self.assertEqual(got["cost"], {"amount": "0", "unit": None, "priced": 0, "pending": 0, "unpriced": 0,
                                       "estimate": None})
        self.assertEqual(got["progress"], 0)

    def test_funnel_follows_the_messages(self):
        # A message row as the feeder will make it, moved to delivered with an error-free callback
        # history, and a click on the other recipient's link: the counts follow at once.
        dist = self.body["id"]
        psql(DSN, f"""
            WITH m AS (INSERT INTO messages (tenant_id, direction, to_addr, status, status_rank, error_code, sent_at)
                       SELECT tenant_id, 'outbound', 'whatsapp:' || phone, 'failed', wagate_status_rank('failed'),
                              63016, now() FROM distribution_recipients
                       WHERE distribution_id = '{dist}' AND phone = '{self.ana}' RETURNING id)
            UPDATE distribution_recipients SET status = 'queued', message_id = (SELECT id FROM m)
             WHERE distribution_id = '{dist}' AND phone = '{self.ana}';
            UPDATE distribution_links SET clicks = 2 WHERE distribution_id = '{dist}'
               AND recipient_id = (SELECT id FROM distribution_recipients WHERE distribution_id = '{dist}'
                                   AND phone = '{self.bea}');""")
        _, _, got = call("GET", PATH + "/" + dist)
        counts = got["counts"]
        self.assertEqual((counts["planned"], counts["queued"], counts["sent"], counts["failed"], counts["clicked"]),
                         (2, 1, 1, 1, 1), counts)
        self.assertEqual(got["errors"][0]["code"], 63016)
        self.assertEqual(got["errors"][0]["count"], 1)
        self.assertTrue(got["errors"][0]["description"])
        self.assertEqual(got["progress"], 0.5)
        status, _, failed = call("GET", PATH + "/" + dist + "/recipients?status=failed")
        self.assertEqual(status, 200, failed)
        self.assertEqual([r["phone"] for r in failed["recipients"]], [self.ana])
        self.assertEqual(failed["recipients"][0]["error"]["code"], 63016)

    def test_idempotent_replay_returns_the_first_answer(self):
        status, headers, again = call("POST", PATH, campaign(self.contacts, send_at=LATER),
                                      headers={"Idempotency-Key": self.key})
        self.assertEqual(status, 201)
        self.assertEqual(again, self.body)
        self.assertEqual(headers.get("Idempotent-Replayed"), "true")
        count = psql(DSN, f"SELECT count(*) FROM distributions WHERE idempotency_key = '{self.key}'")
        self.assertEqual(count, "1")
        status, _, reused = call("POST", PATH, campaign(self.contacts[:1]), headers={"Idempotency-Key": self.key})
        self.assertEqual(status, 422, reused)
        self.assertEqual(reused["error"]["code"], "idempotency_key_reused")

    def test_recipients_page_with_a_cursor(self):
        dist = self.body["id"]
        status, _, first = call("GET", PATH + "/" + dist + "/recipients?limit=1")
        self.assertEqual(status, 200, first)
        self.assertEqual([r["phone"] for r in first["recipients"]], [self.ana])
        self.assertEqual(first["recipients"][0]["name"], "Ana")
        cursor = urllib.parse.quote(first["next_cursor"])
        _, _, second = call("GET", PATH + "/" + dist + f"/recipients?limit=1&cursor={cursor}")
        self.assertEqual([(r["phone"], r["status"], r["timezone"]) for r in second["recipients"]],
                         [(self.bea, "planned", "Europe/Lisbon")])
        self.assertIsNone(second["next_cursor"])
        # A cursor is bound to its filters.
        status, _, refused = call("GET", PATH + "/" + dist + f"/recipients?status=planned&cursor={cursor}")
        self.assertEqual(status, 400, refused)
        self.assertEqual(refused["error"]["field"], "cursor")

    def test_another_tenant_sees_404_everywhere(self):
        dist = self.body["id"]
        for path in (PATH + "/" + dist, PATH + "/" + dist + "/recipients"):
            status, _, got = call("GET", path, key=KEYS["other"])
            self.assertEqual(status, 404, (path, got))
            self.assertEqual(got["error"]["code"], "not_found")
        _, _, listed = call("GET", PATH, key=KEYS["other"])
        self.assertNotIn(dist, [d["id"] for d in listed["distributions"]])
        status, _, got = call("GET", PATH + "/00000000-0000-4000-8000-000000000000")
        self.assertEqual(status, 404, got)


class ListNewestFirst(unittest.TestCase):
    def test_cursor_pages_newest_first_without_overlap(self):
        ids = []
        for i in range(3):
            status, _, made = call("POST", PATH, {"name": f"list {i}", "body": "Hi {{name}}",
                                                  "contacts": [{"phone": new_phone(), "name": "Ana"}]})
            self.assertEqual(status, 201, made)
            ids.append(made["id"])
        status, _, page = call("GET", PATH + "?limit=2")
        self.assertEqual(status, 200, page)
        self.assertEqual([d["id"] for d in page["distributions"]], ids[::-1][:2])
        self.assertEqual(page["distributions"][0]["recipient_count"], 1)
        cursor = urllib.parse.quote(page["next_cursor"])
        _, _, rest = call("GET", PATH + f"?limit=2&cursor={cursor}")
        self.assertEqual(rest["distributions"][0]["id"], ids[0])
        status, _, refused = call("GET", PATH + "?cursor=" + cursor[:-2] + "AA")
        self.assertEqual(status, 400, refused)


class Refusals(unittest.TestCase):
    def test_bad_input_gets_a_precise_400_and_leaves_nothing(self):
        before = psql(DSN, "SELECT count(*) FROM distributions")
        cases = [
            ({"name": "x", "body": "Hi", "contacts": [{"phone": new_phone()}, {"name": "no phone"}]},
             "contacts[1].phone"),
            (campaign([{"phone": new_phone(), "name": "A", "variables": {"ref": "r"}}], rate_per_second=0),
             "rate_per_second"),
            (campaign([{"phone": new_phone()}], send_window={"start": "9am", "end": "17:00"}), "send_window.start"),
            (campaign([{"phone": new_phone()}], send_at="next week"), "send_at"),
            ({"name": "x", "body": "go {{link}}", "contacts": [{"phone": new_phone()}]}, "link"),
        ]
        for body, field in cases:
            status, _, got = call("POST", PATH, body)
            self.assertEqual(status, 400, (field, got))
            self.assertEqual(got["error"]["field"], field, got)
        status, _, got = call("POST", PATH, b"{not json")
        self.assertEqual((status, got["error"]["code"]), (400, "invalid_json"))
        self.assertEqual(psql(DSN, "SELECT count(*) FROM distributions"), before)

    def test_scopes_and_sender(self):
        status, _, got = call("POST", PATH, campaign([{"phone": new_phone()}]), key=KEYS["read_only"])
        self.assertEqual(status, 403, got)
        status, _, got = call("POST", PATH, {"name": "x", "body": "Hi", "contacts": [{"phone": new_phone()}],
                                             "sender": "whatsapp:+15005550000"})
        self.assertEqual((status, got["error"]["code"], got["error"]["field"]), (422, "sender_not_allowed", "sender"))
        status, _, got = call("POST", PATH, {"name": "x", "body": "Hi", "contacts": [{"phone": new_phone()}],
                                             "sender": SENDER})
        self.assertEqual(status, 201, got)


if __name__ == "__main__":
    unittest.main(verbosity=2)
