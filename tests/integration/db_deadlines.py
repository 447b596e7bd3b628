"""db_deadlines.py — helper of db_deadlines_test.sh: a signed webhook as curl arguments, deterministic SIDs."""
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from twilio_client import signature, stack_env  # noqa: E402

ENV = stack_env()


def sid(tag, i, prefix="SM"):
    return prefix + (tag.encode().hex() + "%08x" % i).rjust(32, "0")[-32:]


def webhook(kind, tag, i):
    """Prints the path, the signature and the body of one signed webhook, one per line."""
    account = ENV["TWILIO_ACCOUNT_SID"]
    if kind == "status":
        path = "/api/v1/whatsapp/status"
        params = [("AccountSid", account), ("MessageSid", sid(tag, i)), ("MessageStatus", "delivered"),
                  ("ChannelPrefix", "whatsapp"), ("To", "whatsapp:+15005550006")]
    else:
        path = "/api/v1/whatsapp/webhook"
        params = [("AccountSid", account), ("MessageSid", sid(tag, i)), ("From", "whatsapp:+1555100%04d" % i),
                  ("To", "whatsapp:+14155238886"), ("Body", "hello %d" % i)]
    print(path)
    print(signature(ENV["WAGATE_URL"] + path, params, ENV["TWILIO_AUTH_TOKEN"]))
    print(urllib.parse.urlencode(params))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "webhook":
        webhook(args[0], args[1], int(args[2]))
    elif command == "sid-prefix":
        print(sid(args[0], 0)[:-8])
