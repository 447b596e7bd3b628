#!/usr/bin/env python3
# fcgi_drain.py — one handler process, a request in flight, HUP then TERM: the request is answered and the process exits 0.
#
# Usage: fcgi_drain.py HANDLER_BINARY WORK_DIR   (WAGATE_RUN_DIR names the stack)
# Binds a unix socket as spawn-fcgi does and hands it to the handler as fd 0,
# so the handler is this script's child and its exit status is visible. A
# signed status callback is sent over FastCGI with half of its body; while the
# handler waits for the rest, HUP and TERM arrive back to back (a reload cut
# short by a stop). Then the rest of the body follows. Prints one line per
# finding and exits non-zero on the first failure.
import importlib.util
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("twilio_client", os.path.join(HERE, "twilio_client.py"))
tc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tc)

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def record(kind, content, request_id=1):
    padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, kind, request_id, len(content), padding, 0) + content + b"\0" * padding


def pair(name, value):
    name, value = name.encode(), value.encode()

    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)

    return length(len(name)) + length(len(value)) + name + value


def read_response(conn, deadline):
    """The STDOUT bytes until END_REQUEST, or None if the connection closes first."""
    data, out = b"", b""
    conn.settimeout(max(0.1, deadline - time.monotonic()))
    while True:
        while len(data) >= 8:
            _, kind, _, length, padding, _ = struct.unpack(">BBHHBB", data[:8])
            if len(data) < 8 + length + padding:
                break
            content = data[8:8 + length]
            data = data[8 + length + padding:]
            if kind == STDOUT:
                out += content
            elif kind == END_REQUEST:
                return out
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def main():
    binary, work = sys.argv[1], sys.argv[2]
    env = tc.stack_env()
    path = os.path.join(work, "drain.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    log_path = os.path.join(work, "drain.log")
    with open(log_path, "wb") as log:
        handler = subprocess.Popen([binary, "--config", env["WAGATE_CONFIG"]], stdin=listener.fileno(),
                                   stdout=log, stderr=log, env={"PATH": os.environ.get("PATH", "/usr/bin")})
    listener.close()
    deadline = time.monotonic() + 20
    while b"event=started" not in open(log_path, "rb").read():
        if handler.poll() is not None or time.monotonic() > deadline:
            fail("the handler did not start: " + open(log_path, "rb").read().decode()[-500:])
        time.sleep(0.05)

    host = urllib.parse.urlsplit(env["WAGATE_URL"]).netloc
    uri = "/api/v1/whatsapp/status"
    params = [("AccountSid", env["TWILIO_ACCOUNT_SID"]), ("MessageSid", tc.new_sid()), ("MessageStatus", "sent")]
    body = urllib.parse.urlencode(params).encode()
    fcgi_params = {
        "REQUEST_METHOD": "POST", "REQUEST_URI": uri, "QUERY_STRING": "", "REQUEST_SCHEME": "https",
        "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": host, "REQUEST_ID": "drain-test", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_TWILIO_SIGNATURE": tc.signature("https://" + host + uri, params, env["TWILIO_AUTH_TOKEN"]),
    }
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    encoded = b"".join(pair(k, v) for k, v in fcgi_params.items())
    conn.sendall(record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 0)) + record(PARAMS, encoded) + record(PARAMS, b"")
                 + record(STDIN, body[:10]))
    # The handler has the request and waits for the rest of its body.
    time.sleep(0.5)
    handler.send_signal(signal.SIGHUP)
    handler.send_signal(signal.SIGTERM)
    # Long enough for a stray default action to have killed the process.
    time.sleep(1.0)
    conn.sendall(record(STDIN, body[10:]) + record(STDIN, b""))
    answer = read_response(conn, time.monotonic() + 10)
    conn.close()
    if answer is None:
        fail("the request in flight was cut: no answer (handler exit status %s)" % handler.poll())
    status_line = answer.split(b"\r\n", 1)[0].decode()
    if status_line != "Status: 200 OK":
        fail("the request in flight was answered '%s', expected 'Status: 200 OK'" % status_line)
    print("ok: the request in flight during HUP+TERM was answered 200")
    try:
        code = handler.wait(timeout=15)
    except subprocess.TimeoutExpired:
        handler.kill()
        fail("the handler did not stop within 15 s of TERM")
    if code != 0:
        fail("the handler exited with %d after HUP+TERM, expected 0 (negative: killed by that signal)" % code)
    print("ok: the handler drained and exited 0")


if __name__ == "__main__":
    main()
