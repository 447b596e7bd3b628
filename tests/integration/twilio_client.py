"""twilio_client.py — sign and post webhooks exactly as Twilio does, for the integration tests and benchmarks."""
import base64
import hashlib
import hmac
import http.client
import os
import ssl
import subprocess
import urllib.parse


def signature(url, params, token):
    """Base64(HMAC-SHA1(token, url + sorted name/value pairs)) — PROTOCOL.md §1."""
    names = sorted({name for name, _ in params})
    data = url
    for name in names:
        for value in sorted({v for n, v in params if n == name}):
            data += name + value
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def stack_env(path=None):
    path = path or os.path.join(os.environ["WAGATE_RUN_DIR"], "stack.env")
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value.strip().strip("'\"")
    return env


class Gateway:
    """Posts to the stack's nginx over HTTPS, the way Twilio reaches it."""

    def __init__(self, env):
        self.env = env
        parsed = urllib.parse.urlsplit(env["WAGATE_URL"])
        self.host, self.port = parsed.hostname, parsed.port
        self.base = env["WAGATE_URL"]
        self.ctx = ssl.create_default_context(cafile=env.get("WAGATE_CA_CERT") or None)

    def request(self, method, path, body=b"", headers=None):
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def post_signed(self, path, params, token=None, url=None, headers=None, sign=True):
        token = token or self.env["TWILIO_AUTH_TOKEN"]
        body = urllib.parse.urlencode(params).encode()
        hdrs = {"Content-Type": "application/x-www-form-urlencoded"}
        if sign:
            hdrs["X-Twilio-Signature"] = signature(url or (self.base + path), params, token)
        hdrs.update(headers or {})
        return self.request("POST", path, body, hdrs)


def psql(dsn, sql):
    out = subprocess.run(["psql", dsn, "-XAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def new_sid(prefix="SM"):
    return prefix + os.urandom(16).hex()
