"""twilio_client.py — webhooks signed exactly as Twilio signs them, and the stack's tools for tests and benchmarks."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import ssl
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request


def signature(url, params, token):
    """Base64(HMAC-SHA1(token, url + sorted name/value pairs)) — PROTOCOL.md §1."""
    names = sorted({name for name, _ in params})
    data = url
    for name in names:
        for value in sorted({v for n, v in params if n == name}):
            data += name + value
    # surrogateescape: a test can sign bytes that are not UTF-8 ("\udcc3" is the byte C3).
    digest = hmac.new(token.encode(), data.encode("utf-8", "surrogateescape"), hashlib.sha1).digest()
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
        body = urllib.parse.urlencode(params, errors="surrogateescape").encode()
        hdrs = {"Content-Type": "application/x-www-form-urlencoded"}
        if sign:
            hdrs["X-Twilio-Signature"] = signature(url or (self.base + path), params, token)
        hdrs.update(headers or {})
        return self.request("POST", path, body, hdrs)

    def api(self, method, path, body=None, key=None, content_type="application/json", headers=None):
        """An API call with a Bearer key (the stack's own by default): (status, headers, parsed JSON or None).

        body: a dict (sent as JSON), bytes (sent as content_type) or None."""
        hdrs = {"Authorization": "Bearer " + (key or self.env["WAGATE_API_KEY"])}
        raw = b""
        if body is not None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        status, resp_headers, resp = self.request(method, path, raw, hdrs)
        try:
            parsed = json.loads(resp) if resp else None
        except ValueError:
            parsed = resp  # not JSON (a CSV export): the bytes
        return status, resp_headers, parsed

    def inbound(self, phone, body, to=None):
        """A signed inbound WhatsApp message from phone (E.164), as Twilio posts it; asserts the 200.

        It opens the contact's 24-hour window; a STOP also opts them out."""
        sid = new_sid()
        params = [("AccountSid", self.env["TWILIO_ACCOUNT_SID"]), ("ApiVersion", "2010-04-01"), ("Body", body),
                  ("From", "whatsapp:" + phone), ("MessageSid", sid), ("NumMedia", "0"), ("ProfileName", "Ana"),
                  ("SmsMessageSid", sid), ("SmsSid", sid), ("SmsStatus", "received"), ("To", to or LOCAL_SENDER),
                  ("WaId", phone[1:])]
        status, _, raw = self.post_signed("/api/v1/whatsapp/webhook", params)
        assert status == 200, (status, raw)
        return sid


def sim_messages(env, phone):
    """Every Messages.json request the simulator received for this phone (E.164), oldest first."""
    url = env["WAGATE_SIM_URL"] + "/sim/messages?to=" + urllib.parse.quote("whatsapp:" + phone)
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())["messages"]


def wait_until(what, check, seconds):
    """check()'s first true value within seconds, else an AssertionError naming what."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {what}")


def psql(dsn, sql):
    out = subprocess.run(["psql", dsn, "-XAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def new_sid(prefix="SM"):
    return prefix + os.urandom(16).hex()


LOCAL_SENDER = "whatsapp:+14155238886"  # the local tenant's number (scripts/stack)


def bin_path(name):
    return os.path.join(os.environ["WAGATE_BUILD_DIR"], "bin", name)


def clean_env():
    # The config file alone decides, as in production: nothing in the test's
    # environment (WAGATE_*, PG*) may change what a tool does.
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), "LANG": "C.UTF-8"}


def admin(env, *args, check=True):
    """wagate-admin ARGS against the stack's config; a failure raises unless check=False."""
    out = subprocess.run([bin_path("wagate-admin"), "--config", env["WAGATE_CONFIG"], *args],
                         capture_output=True, text=True, env=clean_env())
    if check and out.returncode != 0:
        raise AssertionError(f"wagate-admin {' '.join(args)} failed ({out.returncode}): {out.stderr}")
    return out


def maint_job(env, job):
    """Runs one wagate-maint job once against the stack's config; returns its log lines (stderr)."""
    out = subprocess.run([bin_path("wagate-maint"), "run", "--once", "--job", job,
                          "--config", env["WAGATE_CONFIG"]], capture_output=True, text=True, env=clean_env())
    if out.returncode != 0:
        raise AssertionError(f"wagate-maint {job} failed ({out.returncode}): {out.stderr}")
    return out.stderr


def add_tenant(env, prefix, whatsapp_from="whatsapp:+14155230000"):
    """A new tenant named PREFIX-xxxxxx with a random auth token; returns its name."""
    name = prefix + "-" + os.urandom(3).hex()
    # The token goes through a file, as an operator passes it: never on a command line.
    with tempfile.NamedTemporaryFile("w", dir=os.environ["WAGATE_RUN_DIR"], delete=False) as f:
        f.write(os.urandom(16).hex() + "\n")
        token_file = f.name
    admin(env, "tenant", "add", "--name", name, "--account-sid", "AC" + os.urandom(16).hex(),
          "--auth-token-file", token_file, "--whatsapp-from", whatsapp_from)
    os.unlink(token_file)
    return name


def tenant_id(dsn, name):
    return psql(dsn, f"SELECT tenant_id FROM tenants WHERE name = '{name}'")


def new_phone():
    # A fresh number per test: no two tests share a conversation or its counters.
    return "+1555" + "".join(random.choice("0123456789") for _ in range(7))
