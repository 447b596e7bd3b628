"""distribution_cost_test.py — Twilio's prices, fetched by wagate-maint's price job, summed into a distribution's cost.

Run by distribution_cost_test.sh against a stack whose simulator prices a
message 6 s after its first final status (WAGATE_SIM_PRICE_DELAY_MS). The
prices stored are compared with what the simulator's own Messages resource
answers for each SID.
"""
import base64
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from twilio_client import Gateway, psql, stack_env, wait_until  # noqa: E402

ENV = stack_env()
GW = Gateway(ENV)
DSN = ENV["WAGATE_PG_DSN"]
SIM = ENV["WAGATE_SIM_URL"]
KEY = ENV["WAGATE_API_KEY"]
ACCOUNT = ENV["TWILIO_ACCOUNT_SID"]
TOKEN = ENV["TWILIO_AUTH_TOKEN"]
BIN = os.path.join(os.environ["WAGATE_BUILD_DIR"], "bin")
PATH = "/api/v1/distributions"
PRICE_DELAY_S = int(os.environ.get("WAGATE_SIM_PRICE_DELAY_MS", "6000")) / 1000.0
LATER = "2099-01-01T00:00:00Z"
RUN = str(int(time.time() * 1000) % 10_000_000).zfill(7)
# One recipient per country of the simulator's table: US/Canada, UK, Brazil.
PEOPLE = [{"phone": "+1202" + RUN, "name": "us"}, {"phone": "+447700" + RUN[:6], "name": "uk"},
          {"phone": "+55119" + RUN + "1", "name": "br"}]
PRICES = {"us": "-0.00500", "uk": "-0.03580", "br": "-0.06250"}


def call(method, path, body=None):
    status, _, got = GW.api(method, path, body)
    return status, got

def create(people, **extra):
    # An approved template: a free-form body would go only to contacts who
    # wrote in the last 24 hours.
    body = {"name": "cost test", "content_sid": "HX" + "0123456789abcdef" * 2,
            "content_variables": {"1": "{{name}}"}, "contacts": people}
    body.update(extra)
    status, got = call("POST", PATH, body)
    assert status == 201, (status, got)
    assert got["recipients"]["accepted"] == len(people), got
    return got["id"]


def get(dist):
    status, got = call("GET", f"{PATH}/{dist}")
    assert status == 200, (status, got)
    return got


wait_for = wait_until

def price_job(**env):
    extra = {"WAGATE_" + k.upper(): str(v) for k, v in env.items()}
    done = subprocess.run([os.path.join(BIN, "wagate-maint"), "run", "--once", "--job", "price",
                           "--config", ENV["WAGATE_CONFIG"]],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **extra})
    assert done.returncode == 0, done.stderr
    return done.stderr


def sim_price(sid):
    request = urllib.request.Request(f"{SIM}/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as resp:
        got = json.loads(resp.read())
    return got["price"], got["price_unit"]


def rows(dist):
    """name -> (message id, sid, price, price_unit, checked)."""
    out = {}
    for line in psql(DSN, f"""
            SELECT r.name, m.id, m.message_sid, coalesce(m.price::text, ''), coalesce(m.price_unit, ''),
                   m.price_checked_at IS NOT NULL
            FROM distribution_recipients r JOIN messages m ON m.tenant_id = r.tenant_id AND m.id = r.message_id
            WHERE r.distribution_id = '{dist}'""").splitlines():
        name, mid, sid, price, unit, checked = line.split("|")
        out[name] = (mid, sid, price, unit, checked == "t")
    return out


class Cost(unittest.TestCase):
    def test_prices_fetched_after_twilio_has_them_and_summed(self):
        dist = create(PEOPLE)
        wait_for("every recipient read", lambda: get(dist)["counts"]["read"] == 3, 60)
        finals_seen = time.time()

        # Twilio (the simulator) has no price yet: the job notes that it asked.
        before = get(dist)["cost"]
        self.assertEqual(before["priced"], 0, before)
        self.assertEqual(before["amount"], "0", before)
        price_job()
        early = time.time() - finals_seen < PRICE_DELAY_S - 1
        if early:
            for name, row in rows(dist).items():
                self.assertEqual(row[2], "", f"{name} priced before the simulator priced it")
                self.assertTrue(row[4], f"{name}: the job did not record its check")
            self.assertEqual(get(dist)["cost"]["pending"], 3)
        else:
            print("note: the first price run came after the simulator's delay; the null case was not seen",
                  file=sys.stderr)

        time.sleep(max(0.0, finals_seen + PRICE_DELAY_S + 0.5 - time.time()))
        if early:
            # Asked within price_recheck_seconds (60 by default): not asked again yet.
            price_job()
            self.assertTrue(all(row[2] == "" for row in rows(dist).values()), rows(dist))
        price_job(price_recheck_seconds=0)
        stored = rows(dist)
        for name, (mid, sid, price, unit, _) in stored.items():
            self.assertEqual((price, unit), sim_price(sid), name)
            self.assertEqual(price, PRICES[name], name)
            status, message = call("GET", f"/api/v1/whatsapp/messages/{mid}")
            self.assertEqual(status, 200, message)
            self.assertEqual((message["price"], message["price_unit"]), (PRICES[name], "USD"), name)

        cost = get(dist)["cost"]
        self.assertEqual(cost["amount"], "0.10330", cost)  # 0.005 + 0.0358 + 0.0625, as a positive cost
        self.assertEqual(cost["unit"], "USD", cost)
        self.assertEqual((cost["priced"], cost["pending"], cost["unpriced"]), (3, 0, 0), cost)

        # A run with nothing due asks Twilio nothing and changes nothing.
        self.assertNotIn("checked=1", price_job(price_recheck_seconds=0))
        self.assertEqual(rows(dist), stored)

        # Before launch: the estimate is the planned recipients times the
        # tenant's recent average price.
        planned = create([{"phone": "+1303" + RUN, "name": "a"}, {"phone": "+1304" + RUN, "name": "b"}],
                         send_at=LATER)
        got = get(planned)
        self.assertEqual(got["status"], "scheduled")
        self.assertEqual(got["cost"]["amount"], "0")
        self.assertEqual(got["cost"]["estimate"],
                         {"amount": "0.06887", "unit": "USD", "basis": "tenant_recent_average", "sample": 3})

    def test_a_message_never_priced_is_given_up_after_the_age(self):
        dist = create([{"phone": "+1205" + RUN, "name": "late"}])
        wait_for("read", lambda: get(dist)["counts"]["read"] == 1, 60)
        mid = rows(dist)["late"][0]
        psql(DSN, f"UPDATE messages SET last_status_at = now() - interval '2 hours' WHERE id = '{mid}'")
        price_job(price_give_up_hours=1)
        self.assertEqual(psql(DSN, f"SELECT price IS NULL AND priced_at IS NOT NULL FROM messages WHERE id = '{mid}'"),
                         "t")
        cost = get(dist)["cost"]
        self.assertEqual((cost["priced"], cost["pending"], cost["unpriced"]), (0, 0, 1), cost)


if __name__ == "__main__":
    unittest.main(verbosity=2)
