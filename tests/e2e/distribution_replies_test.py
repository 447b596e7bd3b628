"""distribution_replies_test.py — replies mark distribution recipients: signed inbound webhooks through nginx.

Run by distribution_replies_test.sh against a stack it brought up (WAGATE_RUN_DIR
set). Until the feeder sends, each recipient's message is inserted the way the
feeder will leave it (a messages row, the recipient queued with its id); the
replies are real webhooks, signed as Twilio signs them.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from twilio_client import LOCAL_SENDER as SENDER, Gateway, new_phone, psql, stack_env  # noqa: E402

ENV = stack_env()
GW = Gateway(ENV)
DSN = ENV["WAGATE_PG_DSN"]
KEY = ENV["WAGATE_API_KEY"]
PATH = "/api/v1/distributions"


def call(method, path, body=None):
    status, _, got = GW.api(method, path, body)
    return status, got

def inbound(phone, body):
    GW.inbound(phone, body, to=SENDER)

def distribution(phones):
    status, got = call("POST", PATH, {"name": "reply survey", "body": "Hi {{name}}, how was your stay?",
                                      "contacts": [{"phone": p, "name": "N" + str(i)} for i, p in enumerate(phones)]})
    assert status == 201, (status, got)
    return got


def sent(dist, age="1 hour"):
    """Gives every recipient of dist a delivered message created `age` ago, as the feeder and sender would."""
    psql(DSN, f"""
        WITH m AS (INSERT INTO messages (tenant_id, direction, to_addr, body, status, status_rank, sent_at,
                                         delivered_at, created_at)
                   SELECT tenant_id, 'outbound', 'whatsapp:' || phone, body, 'delivered',
                          wagate_status_rank('delivered'), now(), now(), now() - interval '{age}'
                     FROM distribution_recipients WHERE distribution_id = '{dist}' RETURNING id, to_addr)
        UPDATE distribution_recipients r SET status = 'queued', message_id = m.id FROM m
         WHERE r.distribution_id = '{dist}' AND 'whatsapp:' || r.phone = m.to_addr""")


class Replies(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ana, cls.bea, cls.cid, cls.dan = new_phone(), new_phone(), new_phone(), new_phone()
        cls.dist = distribution([cls.ana, cls.bea, cls.cid])["id"]
        sent(cls.dist)
        # A reply after the window (72 hours by default) is an ordinary message.
        cls.old = distribution([cls.dan])["id"]
        sent(cls.old, "73 hours")
        inbound(cls.ana, "Lovely, thanks")
        inbound(cls.ana, "Really lovely")
        inbound(cls.bea, "STOP")
        inbound(cls.dan, "hello?")

    def recipients(self, dist):
        status, got = call("GET", PATH + "/" + dist + "/recipients")
        self.assertEqual(status, 200, got)
        return {r["phone"]: r["replied"] for r in got["recipients"]}

    def test_the_funnel_counts_the_recipients_who_replied(self):
        status, got = call("GET", PATH + "/" + self.dist)
        self.assertEqual(status, 200, got)
        self.assertEqual((got["counts"]["planned"], got["counts"]["delivered"], got["counts"]["replied"]),
                         (3, 3, 2), got["counts"])

    def test_the_recipients_list_shows_who_replied(self):
        self.assertEqual(self.recipients(self.dist), {self.ana: True, self.bea: True, self.cid: False})

    def test_the_first_reply_is_the_one_recorded(self):
        times = psql(DSN, f"SELECT r.replied_at = (SELECT min(created_at) FROM messages WHERE direction = 'inbound'"
                          f" AND from_addr = 'whatsapp:{self.ana}') FROM distribution_recipients r"
                          f" WHERE r.distribution_id = '{self.dist}' AND r.phone = '{self.ana}'")
        self.assertEqual(times, "t")

    def test_a_reply_after_the_window_does_not_count(self):
        self.assertEqual(self.recipients(self.old), {self.dan: False})
        _, got = call("GET", PATH + "/" + self.old)
        self.assertEqual(got["counts"]["replied"], 0)

    def test_stop_is_a_reply_and_opts_out_of_later_distributions(self):
        later = distribution([self.bea, new_phone()])
        self.assertEqual((later["recipients"]["accepted"], later["recipients"]["opted_out"]), (1, 1), later)


if __name__ == "__main__":
    unittest.main(verbosity=2)
