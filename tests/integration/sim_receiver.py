"""sim_receiver.py — a webhook receiver for simulator_test.sh: records every POST and checks its X-Twilio-Signature.

Usage: sim_receiver.py PORT_FILE TOKEN_FILE
Listens on 127.0.0.1 on a free port (written to PORT_FILE once listening).
  POST /fail500...  answers 500 (a receiver that is down for Twilio's purposes)
  POST /inbound...  answers TwiML, as a WhatsApp inbound webhook must
  POST anything     answers 200
  GET  /_records    the POSTs so far, as JSON: path, params (list of pairs),
                    signature_ok, idempotency_token, content_type
The signature is checked independently of the C++ code, per PROTOCOL.md §1.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def signature(url, pairs, token):
    data = url
    for name in sorted({name for name, _ in pairs}):
        for value in sorted({v for n, v in pairs if n == name}):
            data += name + value
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    records = []
    lock = threading.Lock()
    token = ""

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path != "/_records":
            self.answer(404, "{}", "application/json")
            return
        with self.lock:
            body = json.dumps(self.records)
        self.answer(200, body, "application/json")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode()
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True, strict_parsing=False)
        url = "http://%s%s" % (self.headers.get("Host"), self.path)
        expected = signature(url, pairs, self.token)
        given = self.headers.get("X-Twilio-Signature", "")
        record = {
            "path": self.path,
            "params": pairs,
            "signature_ok": hmac.compare_digest(expected, given),
            "idempotency_token": self.headers.get("I-Twilio-Idempotency-Token"),
            "content_type": self.headers.get("Content-Type"),
        }
        with self.lock:
            self.records.append(record)
        if self.path.startswith("/fail500"):
            self.answer(500, "down", "text/plain")
        elif self.path.startswith("/inbound"):
            self.answer(200, '<?xml version="1.0" encoding="UTF-8"?><Response/>', "text/xml")
        else:
            self.answer(200, "", "text/plain")


def main():
    port_file, token_file = sys.argv[1], sys.argv[2]
    with open(token_file) as f:
        Receiver.token = f.read().strip()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
