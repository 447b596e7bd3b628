"""data_errors.py — helper of data_errors_test.sh: a batch with one record Postgres refuses, and a spool file with one."""
import concurrent.futures
import json
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(__file__))
from twilio_client import Gateway, new_sid, psql, stack_env  # noqa: E402

ENV = stack_env()
GW = Gateway(ENV)
ACCOUNT = ENV["TWILIO_ACCOUNT_SID"]
DSN = ENV["WAGATE_PG_DSN"]


def status_params(sid, message=""):
    params = [("AccountSid", ACCOUNT), ("MessageSid", sid), ("MessageStatus", "undelivered"),
              ("ErrorCode", "63016"), ("ChannelPrefix", "whatsapp"), ("To", "whatsapp:+15005550006")]
    return params + [("ErrorMessage", message)] if message else params


def events(sids):
    listed = ",".join(f"'{s}'" for s in sids)
    return int(psql(DSN, f"SELECT count(*) FROM status_events WHERE message_sid IN ({listed})"))


def batch(n):
    """n good callbacks and one the table's test constraint refuses, all at once: prints what came back."""
    good = [new_sid() for _ in range(n)]
    bad = new_sid()
    jobs = [(s, "") for s in good] + [(bad, "poison")]
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(lambda job: GW.post_signed("/api/v1/whatsapp/status", status_params(*job)), jobs))
    good_ok = sum(a[0] == 200 for a in answers[:-1])
    bad_status, _, bad_body = answers[-1]
    print(json.dumps({"good_ok": good_ok, "good_stored": events(good), "bad_status": bad_status,
                      "bad_body": json.loads(bad_body or b"{}") if bad_status != 200 else {},
                      "bad_stored": events([bad])}))


def nul():
    """A signed callback and a signed inbound message with %00 in a parameter: prints both statuses and bodies."""
    sid = new_sid()
    status = GW.post_signed("/api/v1/whatsapp/status", status_params(sid, "bad\x00x"))
    isid = new_sid()
    inbound = GW.post_signed("/api/v1/whatsapp/webhook",
                             [("AccountSid", ACCOUNT), ("MessageSid", isid), ("From", "whatsapp:+15550001111"),
                              ("To", "whatsapp:+14155238886"), ("Body", "hi"), ("ProfileName", "a\x00b")])
    unsigned = GW.post_signed("/api/v1/whatsapp/status", status_params(new_sid(), "bad\x00x"), sign=False,
                              headers={"X-Twilio-Signature": "AAAA"})
    stored = events([sid]) + int(psql(DSN, f"SELECT count(*) FROM messages WHERE message_sid = '{isid}'"))
    print(json.dumps({"status": status[0], "status_body": json.loads(status[2] or b"{}") if status[0] != 200 else {},
                      "inbound": inbound[0], "inbound_body": inbound[2].decode(errors="replace"),
                      "unsigned": unsigned[0], "stored": stored}))


def frame(payload):
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def spool_file(spool_dir):
    """A spool file as a dead process would leave it: good, refused, damaged bytes, good. Prints the good SIDs."""
    tenant = psql(DSN, f"SELECT tenant_id FROM tenants WHERE account_sid = '{ACCOUNT}'")
    good = [new_sid(), new_sid()]

    def record(sid, message):
        return json.dumps({"kind": "status", "tenant_id": int(tenant), "sid": sid, "status": "sent",
                           "error_code": "", "error_message": message,
                           "received_at": "2026-01-01T00:00:00.000000Z"}).encode()
    data = (frame(record(good[0], "")) + frame(record(new_sid(), "poison")) + b"\x00" * 8 + b"garbage" +
            frame(b"not a record") + frame(record(good[1], "")))
    path = os.path.join(spool_dir, "spool-999999-1-0.log")
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)
    print(" ".join(good))


def quarantined(spool_dir):
    """The payloads of every quarantine file, one per line (anything but printable ASCII shown as hex)."""
    for name in sorted(os.listdir(spool_dir)):
        if not name.startswith("quarantine-"):
            continue
        data = open(os.path.join(spool_dir, name), "rb").read()
        pos = 0
        while len(data) - pos >= 8:
            length, crc = struct.unpack_from("<II", data, pos)
            payload = data[pos + 8:pos + 8 + length]
            if len(payload) != length or zlib.crc32(payload) != crc:
                print("BROKEN-FRAMING")
                break
            printable = all(32 <= b < 127 for b in payload)
            print(payload.decode() if printable else payload.hex())
            pos += 8 + length


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "batch":
        batch(int(args[0]))
    elif command == "nul":
        nul()
    elif command == "spool-file":
        spool_file(args[0])
    elif command == "quarantined":
        quarantined(args[0])
    elif command == "events":
        print(events(args))
