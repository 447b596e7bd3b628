"""distribution_bench.py — a large distribution: CSV upload time and memory, drain rate, funnel reads (scripts/bench distribution).

Run by scripts/bench against a stack it brought up with the sender stopped
(WAGATE_RUN_DIR and WAGATE_BUILD_DIR set). Creates a distribution with one
JSON contact (it stays `scheduled`: no feeder runs), uploads an N-row CSV to
/{id}/contacts and times it, reading every wagate-api process's VmHWM before
and after. Then starts the sender, whose feeder runs the distribution, and
over a bounded slice counts the creates the simulator answered 201 (the
drain rate, against rate_per_second) while sequential GETs of the
distribution through nginx measure the funnel read during the drain.
Prints the figures beside their goals; judges nothing.
"""
import argparse
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from twilio_client import stack_env  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ENV = stack_env()
CONTENT_SID = "HX" + "0123456789abcdef" * 2
# Portuguese mobiles: far from the simulator's scenario numbers (…55501NN).
FIRST_PHONE = 351912000000


def log(text):
    print("bench: " + text, file=sys.stderr, flush=True)


def sql(query):
    out = subprocess.run(["psql", ENV["WAGATE_PG_DSN"], "-XAt", "-v", "ON_ERROR_STOP=1", "-c", query],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Client:
    """One kept-alive HTTPS connection through nginx, as an application would hold it."""

    def __init__(self, timeout=120):
        parsed = urllib.parse.urlsplit(ENV["WAGATE_URL"])
        ctx = ssl.create_default_context(cafile=ENV.get("WAGATE_CA_CERT") or None)
        self.conn = http.client.HTTPSConnection(parsed.hostname, parsed.port, context=ctx, timeout=timeout)
        self.auth = {"Authorization": "Bearer " + ENV["WAGATE_API_KEY"]}

    def status(self, method, path):
        """Only the status, the answer read whole: the latency measured is until its last byte."""
        self.conn.request(method, path, headers=self.auth)
        response = self.conn.getresponse()
        response.read()
        return response.status

    def call(self, method, path, body=None, content_type=None, want=200):
        headers = dict(self.auth)
        if content_type:
            headers["Content-Type"] = content_type
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != want:
            raise RuntimeError(f"{method} {path} answered {response.status}: {data[:300]!r}")
        return data


def api_processes():
    """The wagate-api processes under the stack's multiwatch (pids/api.pid), pid → VmHWM in kB."""
    with open(os.path.join(os.environ["WAGATE_RUN_DIR"], "pids", "api.pid")) as f:
        parent = f.read().strip()
    out = subprocess.run(["pgrep", "-P", parent], capture_output=True, text=True).stdout.split()
    result = {}
    for pid in out:
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except FileNotFoundError:
            continue
        if fields.get("Name", "").strip().startswith("wagate-api"):
            result[pid] = int(fields["VmHWM"].split()[0])
    if not result:
        raise RuntimeError(f"no wagate-api process under pid {parent}")
    return result


def sim_created():
    with urllib.request.urlopen(ENV["WAGATE_SIM_URL"] + "/sim/stats", timeout=10) as r:
        return int(json.load(r).get("creates_by_status", {}).get("201", 0))


def sender_mps():
    """The stack's sender_mps (wagate.conf.local), the number's limit when the tenant sets none."""
    with open(os.path.join(os.environ["WAGATE_RUN_DIR"], "wagate.conf")) as f:
        values = [line.split("=", 1)[1].strip() for line in f if line.split("=", 1)[0].strip() == "sender_mps"]
    return values[-1] if values else "80 (default)"


def percentile(sorted_samples, p):
    return sorted_samples[max(0, int(len(sorted_samples) * p / 100 + 0.5) - 1)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--slice", type=float, default=30.0, help="seconds of drain measured")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    client = Client()
    created = json.loads(client.call("POST", "/api/v1/distributions", json.dumps({
        "name": "bench distribution",
        "content_sid": CONTENT_SID,
        "content_variables": {"1": "{{name}}", "2": "{{ref}}"},
        "contacts": [{"phone": "+351911000000", "name": "First", "variables": {"ref": "r0"}}],
        "rate_per_second": args.rate,
    }), "application/json", want=201))
    dist = created["id"]
    csv = "phone,name,ref\r\n" + "".join(f"+{FIRST_PHONE + i},Contact {i},r{i}\r\n"
                                         for i in range(args.contacts))
    body = csv.encode()
    log(f"distribution {dist}: uploading {args.contacts} contacts ({len(body) / 1e6:.1f} MB CSV), sender stopped")
    before = api_processes()
    start = time.monotonic()
    answer = json.loads(client.call("POST", f"/api/v1/distributions/{dist}/contacts", body, "text/csv"))
    upload_s = time.monotonic() - start
    after = api_processes()
    grown = {pid: (before.get(pid, 0), kb) for pid, kb in after.items() if kb != before.get(pid)}
    served = max(grown.items(), key=lambda kv: kv[1][1]) if grown else max(
        ((pid, (before.get(pid, 0), kb)) for pid, kb in after.items()), key=lambda kv: kv[1][1])
    log(f"  accepted {answer['recipients']['accepted']} in {upload_s:.1f} s; api VmHWM kB before {before}, "
        f"after {after}")

    limit = sql("SELECT coalesce(rate_limit_mps::text, 'none') FROM tenants WHERE name = 'local'")
    log(f"starting the sender (tenant rate_limit_mps {limit}, sender_mps {sender_mps()}); its feeder runs the distribution")
    base = sim_created()
    subprocess.run([os.path.join(ROOT, "scripts", "stack"), "up"], check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while sim_created() == base:
        if time.monotonic() > deadline:
            raise RuntimeError("no message reached the simulator within 60 s of starting the sender")
        time.sleep(0.2)
    # A few passes for the pace to settle, then the measured slice; it stays
    # short of the list's end so the feeder never runs out of recipients.
    time.sleep(3)
    total = args.contacts + 1
    slice_s = min(args.slice, max(1.0, (total - (sim_created() - base)) / args.rate * 0.8))
    path = f"/api/v1/distributions/{dist}"
    reader = Client(timeout=15)
    reader.call("GET", f"/api/v1/distributions?limit=1")  # connection and TLS set up
    c0, t0 = sim_created(), time.monotonic()
    samples, refused = [], {}
    interval = slice_s / args.requests
    # A slow answer (the statement timeout is 5 s) must not stretch the slice:
    # requests stop at its end, and the table says how many were made.
    for i in range(args.requests):
        if time.monotonic() >= t0 + slice_s:
            break
        begin = time.perf_counter()
        status = reader.status("GET", path)
        samples.append((time.perf_counter() - begin) * 1000)
        if status != 200:
            refused[status] = refused.get(status, 0) + 1
        time.sleep(max(0.0, t0 + (i + 1) * interval - time.monotonic()))
    while time.monotonic() < t0 + slice_s:
        time.sleep(0.05)
    c1, t1 = sim_created(), time.monotonic()
    drained = (c1 - c0) / (t1 - t0)
    final = sql(f"SELECT string_agg(status || ' ' || n, ', ') FROM (SELECT status, count(*) AS n "
                f"FROM distribution_recipients WHERE distribution_id = '{dist}' GROUP BY 1 ORDER BY 1) s")
    samples.sort()

    print("distribution benchmark: one distribution, HTTPS through nginx, simulator latency "
          f"{os.environ.get('WAGATE_SIM_LATENCY_MS', '0')} ms")
    print()
    print(f"{'figure':<46} {'measured':>22}  goal")
    print(f"{'time to accept the CSV (' + str(args.contacts) + ' contacts)':<46} {upload_s:>20.1f} s  <= 10 s")
    print(f"{'peak RSS of the API process (VmHWM)':<46} {served[1][1] / 1024:>19.1f} MB  <= 64 MB"
          f"   (before the upload {served[1][0] / 1024:.1f} MB)")
    print(f"{'drain rate / rate_per_second':<46} {drained / args.rate:>22.3f}  >= 0.95"
          f"   ({c1 - c0} messages in {t1 - t0:.1f} s = {drained:.1f}/s of {args.rate}/s)")
    print(f"{'GET /api/v1/distributions/{id} during drain':<46} "
          f"{'p50 %.1f, p99 %.1f ms' % (statistics.median(samples), percentile(samples, 99)):>22}  p99 <= 50 ms"
          f"   ({len(samples)} of {args.requests} sequential in the slice, max {samples[-1]:.1f} ms, "
          f"non-200: {refused or 'none'})")
    print()
    print(f"accepted {answer['recipients']['accepted']} of {args.contacts} rows "
          f"(duplicates {answer['recipients']['duplicates']}, invalid {len(answer['recipients']['invalid'])}); "
          f"sender number limit: tenant rate_limit_mps {limit}, sender_mps {sender_mps()}; recipients at the end: {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
