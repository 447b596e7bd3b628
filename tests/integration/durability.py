"""durability.py — helper of durability_test.sh: post signed webhooks in parallel, count what Postgres holds."""
import concurrent.futures
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from twilio_client import Gateway, psql, stack_env  # noqa: E402

ENV = stack_env()
GW = Gateway(ENV)
ACCOUNT = ENV["TWILIO_ACCOUNT_SID"]
STATUSES = ["sent", "delivered", "read"]


def sid(tag, i, prefix="SM"):
    # Deterministic SIDs per tag, so the count can find them again.
    return prefix + (tag.encode().hex() + "%08x" % i).rjust(32, "0")[-32:]


def post_status(n, tag):
    def one(i):
        s = sid(tag, i)
        oks = 0
        for status in STATUSES:
            params = [("AccountSid", ACCOUNT), ("MessageSid", s), ("MessageStatus", status),
                      ("ChannelPrefix", "whatsapp"), ("To", "whatsapp:+15005550006")]
            oks += GW.post_signed("/api/v1/whatsapp/status", params)[0] == 200
        return oks == len(STATUSES)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        ok = sum(pool.map(one, range(n)))
    return f"{ok}/{n}"


def post_inbound(n, tag):
    def one(i):
        s = sid(tag + "in", i)
        params = [("AccountSid", ACCOUNT), ("MessageSid", s), ("From", "whatsapp:+1555000%04d" % i),
                  ("To", "whatsapp:+14155238886"), ("Body", "hello %d" % i)]
        return GW.post_signed("/api/v1/whatsapp/webhook", params)[0] == 200
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        ok = sum(pool.map(one, range(n)))
    return f"{ok}/{n}"


def count(tag):
    prefix = sid(tag, 0)[:-8]
    events = psql(ENV["WAGATE_PG_DSN"],
                  f"SELECT count(*) FROM status_events WHERE message_sid LIKE '{prefix}%'")
    inbound = psql(ENV["WAGATE_PG_DSN"],
                   f"SELECT count(*) FROM messages WHERE direction = 'inbound' "
                   f"AND message_sid LIKE '{sid(tag + 'in', 0)[:-8]}%'")
    return f"{events}/{inbound}"


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "post-status":
        print(post_status(int(args[0]), args[1]))
    elif command == "post-inbound":
        print(post_inbound(int(args[0]), args[1]))
    elif command == "count":
        print(count(args[0]))
