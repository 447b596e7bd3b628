"""distribution_csv_test.py — POST {id}/contacts (CSV), GET {id}/recipients as CSV, POST {id}/test, through nginx.

Run by distribution_csv_test.sh against a stack it brought up (WAGATE_RUN_DIR set).
The distributions are scheduled for tomorrow, so nothing but the test send
goes out while the tests look.
"""
import csv
import io
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from twilio_client import Gateway, add_tenant, admin, new_phone, sim_messages, stack_env  # noqa: E402

ENV = stack_env()
GW = Gateway(ENV)
KEY = ENV["WAGATE_API_KEY"]
SIM = ENV["WAGATE_SIM_URL"]
PATH = "/api/v1/distributions"
SID = "HX" + "0123456789abcdef" * 2
TOMORROW = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
KEYS = {}


def call(method, path, body=None, key=KEY, content_type="application/json", headers=None):
    hdrs = {"Authorization": "Bearer " + key}
    raw = b""
    if body is not None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs["Content-Type"] = content_type
    hdrs.update(headers or {})
    status, resp_headers, resp = GW.request(method, path, raw, hdrs)
    return status, resp_headers, resp


def call_json(*args, **kwargs):
    status, headers, raw = call(*args, **kwargs)
    return status, json.loads(raw) if raw else None


def upload(dist_id, text, key=KEY, content_type="text/csv"):
    return call_json("POST", f"{PATH}/{dist_id}/contacts", text.encode(), key=key, content_type=content_type)


def create(contacts):
    body = {"name": "csv survey", "content_sid": SID, "content_variables": {"1": "{{name}}", "2": "{{link}}"},
            "link": "https://survey.example/s/42?r={{ref}}", "contacts": contacts, "send_at": TOMORROW}
    status, out = call_json("POST", PATH, body)
    assert status == 201, (status, out)
    return out


def sim_creates(phone):
    return sim_messages(ENV, phone)

def setUpModule():
    other = add_tenant(ENV, "csv-other")
    KEYS["other"] = admin(ENV, "key", "create", "--tenant", other, "--scopes", "send,read").stdout.strip()


class Upload(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ana, cls.bea, cls.cid, cls.dee = new_phone(), new_phone(), new_phone(), new_phone()
        cls.dist = create([{"phone": cls.ana, "name": "Ana", "variables": {"ref": "a1"}}])
        cls.id = cls.dist["id"]
        # A byte order mark and CRLF, as a spreadsheet exports it.
        text = ("\ufeffphone,name,ref\r\n"
                f"{cls.bea},Bea,b1\r\n"
                f"{cls.ana},Ana again,a2\r\n"        # already a recipient (JSON create): a duplicate
                f"{cls.bea},Bea again,b9\r\n"        # a repeat within the file: a duplicate
                "12345,Short,x\r\n"                  # invalid phone
                f"{cls.cid},Cid,\r\n"                # no ref: the link cannot be rendered
                f"{cls.dee},\"Dee, \"\"D\"\"\",d1\r\n")
        cls.status, cls.body = upload(cls.id, text)

    def test_counts_add_up_and_name_each_invalid_row(self):
        self.assertEqual(self.status, 200, self.body)
        recipients = self.body["recipients"]
        self.assertEqual(recipients["accepted"], 2, recipients)
        self.assertEqual(recipients["duplicates"], 2, recipients)
        self.assertEqual(recipients["opted_out"], 0)
        invalid = recipients["invalid"]
        self.assertEqual([i["index"] for i in invalid], [3, 4], invalid)
        self.assertEqual(invalid[0]["phone"], "12345")
        self.assertEqual(invalid[1]["error"], "no variable for {{ref}}")
        self.assertEqual(self.body["recipient_count"], 3)
        self.assertEqual(self.body["status"], "scheduled")

    def test_rows_are_planned_with_their_own_variables(self):
        status, out = call_json("GET", f"{PATH}/{self.id}/recipients")
        self.assertEqual(status, 200, out)
        names = {r["phone"]: r["name"] for r in out["recipients"]}
        self.assertEqual(names, {self.ana: "Ana", self.bea: "Bea", self.dee: 'Dee, "D"'})
        status, out = call_json("GET", f"{PATH}/{self.id}")
        self.assertEqual(out["recipient_count"], 3)
        self.assertEqual(out["counts"]["planned"], 3)

    def test_csv_export_round_trips(self):
        status, headers, raw = call("GET", f"{PATH}/{self.id}/recipients", headers={"Accept": "text/csv"})
        self.assertEqual(status, 200, raw)
        self.assertTrue(headers.get("Content-Type", "").startswith("text/csv"), headers)
        rows = list(csv.reader(io.StringIO(raw.decode(), newline="")))
        self.assertEqual(rows[0], ["phone", "name", "status", "message_id", "message_sid", "error", "clicks",
                                   "replied"])
        by_phone = {r[0]: r for r in rows[1:]}
        self.assertEqual(set(by_phone), {self.ana, self.bea, self.dee})
        self.assertEqual(by_phone[self.dee][1], 'Dee, "D"')
        self.assertEqual(by_phone[self.dee][2:], ["planned", "", "", "", "0", "false"])
        # The exported file uploads again as nothing new: every phone a duplicate.
        again_status, again = upload(self.id, "phone,name\r\n" + "".join(f"{r[0]},{r[1]!s}\r\n".replace(
            'Dee, "D"', '"Dee, ""D"""') for r in rows[1:]))
        self.assertEqual(again_status, 200, again)
        self.assertEqual(again["recipients"]["duplicates"], 3, again)
        self.assertEqual(again["recipient_count"], 3)


class Refusals(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.id = create([{"phone": new_phone(), "name": "Ana", "variables": {"ref": "a1"}}])["id"]

    def count(self):
        return call_json("GET", f"{PATH}/{self.id}")[1]["recipient_count"]

    def test_no_phone_column(self):
        status, out = upload(self.id, "name,ref\nAna,a1\n")
        self.assertEqual((status, out["error"]["code"]), (400, "invalid_csv_header"), out)
        self.assertIn("no phone column", out["error"]["message"])

    def test_malformed_csv_leaves_nothing_behind(self):
        rows = "".join(f"{new_phone()},N,r\n" for _ in range(1500))  # past the first batch
        status, out = upload(self.id, "phone,name,ref\n" + rows + "+15550001,only two\n")
        self.assertEqual((status, out["error"]["code"]), (400, "invalid_csv"), out)
        self.assertIn("row 1502", out["error"]["message"])
        self.assertEqual(self.count(), 1)

    def test_wrong_media_type(self):
        status, out = upload(self.id, "phone\n+15550001\n", content_type="application/json")
        self.assertEqual(status, 415, out)

    def test_another_tenant_sees_404(self):
        status, out = upload(self.id, "phone\n" + new_phone() + "\n", key=KEYS["other"])
        self.assertEqual(status, 404, out)
        status, out = call_json("POST", f"{PATH}/{self.id}/test", {"phone": new_phone()}, key=KEYS["other"])
        self.assertEqual(status, 404, out)

    def test_a_distribution_no_longer_scheduled_is_409(self):
        # Its only contact invalid: nothing to send, so it is completed at once.
        body = {"name": "empty", "body": "hi", "contacts": [{"phone": "12"}]}
        status, out = call_json("POST", PATH, body)
        self.assertEqual((status, out["status"]), (201, "completed"), out)
        status, refused = upload(out["id"], "phone\n" + new_phone() + "\n")
        self.assertEqual((status, refused["error"]["code"]), (409, "distribution_not_scheduled"), refused)


class TestSend(unittest.TestCase):
    def test_sends_one_rendered_message_without_touching_the_counts(self):
        bea = new_phone()
        dist = create([{"phone": bea, "name": "Bea", "variables": {"ref": "b1"}}])
        before = call_json("GET", f"{PATH}/{dist['id']}")[1]["counts"]
        status, out = call_json("POST", f"{PATH}/{dist['id']}/test", {"phone": bea})
        self.assertEqual(status, 202, out)
        self.assertTrue(out["id"])
        deadline = time.monotonic() + 30
        creates = []
        while time.monotonic() < deadline and not creates:
            creates = sim_creates(bea)
            time.sleep(0.2)
        self.assertEqual(len(creates), 1, creates)
        variables = json.loads(creates[0]["params"]["ContentVariables"])
        # The link is the untracked target: a click on a test must not count.
        self.assertEqual(variables, {"1": "Bea", "2": "https://survey.example/s/42?r=b1"})
        self.assertEqual(creates[0]["params"]["ContentSid"], SID)
        time.sleep(1)
        self.assertEqual(len(sim_creates(bea)), 1)
        self.assertEqual(call_json("GET", f"{PATH}/{dist['id']}")[1]["counts"], before)

    def test_a_phone_that_is_no_recipient_lacks_the_variables(self):
        dist = create([{"phone": new_phone(), "name": "Bea", "variables": {"ref": "b1"}}])
        status, out = call_json("POST", f"{PATH}/{dist['id']}/test", {"phone": new_phone()})
        self.assertEqual((status, out["error"]["code"]), (400, "missing_variables"), out)
        self.assertIn("{{name}}, {{ref}}", out["error"]["message"])

    def test_invalid_phone(self):
        dist = create([{"phone": new_phone(), "name": "Bea", "variables": {"ref": "b1"}}])
        status, out = call_json("POST", f"{PATH}/{dist['id']}/test", {"phone": "12"})
        self.assertEqual((status, out["error"]["code"]), (400, "invalid_phone"), out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
