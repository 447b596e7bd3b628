"""metrics_bench.py — delivery-metrics latency at growing history sizes, with an exactness check (scripts/bench metrics).

Run by scripts/bench against a stack it brought up (WAGATE_RUN_DIR and
WAGATE_BUILD_DIR set). For each size: empties the messages and rollups,
writes that many outbound messages over 60 days (tests/bench/metrics_data.sql),
runs the rollup job, then sends sequential requests for a 30-day window
through nginx over one kept-alive HTTPS connection and reports p50/p99.
Each size also compares one answer with a full scan of the same window.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from twilio_client import maint_job, stack_env  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ENV = stack_env()
# The loader drops indexes and bypasses foreign-key triggers: the owner
# role may not, the stack's superuser may (trust on the local socket).
SUPER_DSN = ENV["WAGATE_PG_DSN"].replace("user=wagate", "user=postgres")
DAYS = 60
BATCH = 1_000_000
# The API allows 100 requests/s per key (nginx): stay under it.
MIN_INTERVAL_S = 1 / 90
SENDER = "whatsapp:+14155238887"  # one of the three the generator uses


def log(text):
    print("bench: " + text, file=sys.stderr, flush=True)


def sql(query, dsn=SUPER_DSN):
    out = subprocess.run(["psql", dsn, "-XAt", "-v", "ON_ERROR_STOP=1", "-c", query],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def timed(what, fn):
    start = time.monotonic()
    result = fn()
    elapsed = time.monotonic() - start
    log(f"  {what}: {elapsed:.1f} s")
    return result, elapsed


def reset():
    sql("TRUNCATE messages, message_index, delivery_rollup_counts, delivery_rollup_times, delivery_rollup_buckets, "
        "delivery_rollup_statuses, metrics_rollup_state, metrics_dirty_hours")


def load(tenant, count, start, prefix):
    """Writes `count` messages through the real table: secondary indexes are dropped first and built again
    afterwards with their own definitions (a sorted build is several times faster than inserting into them),
    and the batches run on two connections."""
    indexes = [line.split("|", 1) for line in sql(
        "SELECT indexrelid::regclass::text || '|' || pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = 'messages'::regclass AND NOT indisprimary").splitlines()]
    for name, _ in indexes:
        sql(f"DROP INDEX {name}")

    def batch(first):
        last = min(count, first + BATCH) - 1
        subprocess.run(["psql", SUPER_DSN, "-Xq", "-v", "ON_ERROR_STOP=1",
                        "-c", "SET session_replication_role = replica",
                        "-v", f"tenant={tenant}", "-v", f"first={first}", "-v", f"last={last}",
                        "-v", f"total={count}", "-v", f"start={start}", "-v", f"span_s={DAYS * 86400}",
                        "-v", f"prefix={prefix}", "-f", os.path.join(HERE, "metrics_data.sql")],
                       check=True, capture_output=True, text=True)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(batch, first) for first in range(0, count, BATCH)]:
            future.result()
    for _, definition in indexes:
        subprocess.run(["psql", SUPER_DSN, "-Xq", "-v", "ON_ERROR_STOP=1",
                        "-c", "SET maintenance_work_mem = '1GB'",
                        "-c", definition.replace(" ON ONLY ", " ON ")],
                       check=True, capture_output=True, text=True)
    sql("VACUUM ANALYZE messages")


class Client:
    """One kept-alive HTTPS connection through nginx, as an application would hold it."""

    def __init__(self):
        parsed = urllib.parse.urlsplit(ENV["WAGATE_URL"])
        ctx = ssl.create_default_context(cafile=ENV.get("WAGATE_CA_CERT") or None)
        self.conn = http.client.HTTPSConnection(parsed.hostname, parsed.port, context=ctx, timeout=30)
        self.headers = {"Authorization": "Bearer " + ENV["WAGATE_API_KEY"]}

    def fetch(self, params):
        """The answer's bytes: the latency measured is until the last one arrived."""
        self.conn.request("GET", "/api/v1/whatsapp/delivery-metrics?" + urllib.parse.urlencode(params),
                          headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"delivery-metrics answered {response.status}: {body[:300]!r}")
        return body

    def get(self, params):
        return json.loads(self.fetch(params))


def latencies(client, params, requests):
    client.get(params)  # connection and TLS set up, statement plans warm
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        client.fetch(params)
        elapsed = time.perf_counter() - start
        samples.append(elapsed * 1000)
        time.sleep(max(0.0, MIN_INTERVAL_S - elapsed))
    samples.sort()
    return {"p50": statistics.median(samples), "p99": samples[max(0, int(len(samples) * 0.99 + 0.5) - 1)],
            "max": samples[-1]}


def full_scan(tenant, start, end):
    """The window's numbers straight from messages: what the endpoint must equal."""
    query = f"""
        WITH w AS MATERIALIZED (
          SELECT status, coalesce(error_code, 0) AS code, delivery_ms FROM messages
           WHERE tenant_id = {tenant} AND direction = 'outbound'
             AND created_at >= '{start}' AND created_at < '{end}'),
        n AS (SELECT count(delivery_ms) AS n FROM w),
        ranked AS (SELECT delivery_ms, row_number() OVER (ORDER BY delivery_ms) AS rn FROM w
                    WHERE delivery_ms IS NOT NULL)
        SELECT json_build_object(
          'messages', (SELECT count(*) FROM w),
          'by_status', (SELECT json_object_agg(status, c) FROM (SELECT status, count(*) c FROM w GROUP BY 1) s),
          'errors', (SELECT json_object_agg(code, c) FROM
                       (SELECT code, count(*) c FROM w WHERE status IN ('failed', 'undelivered') GROUP BY 1) e),
          'count', (SELECT n FROM n),
          'sum', (SELECT sum(delivery_ms) FROM w),
          'ranks', (SELECT json_object_agg(rn, delivery_ms) FROM ranked, n
                     WHERE rn IN (1, n.n, greatest(1, (50 * n.n + 99) / 100), greatest(1, (90 * n.n + 99) / 100),
                                  greatest(1, (95 * n.n + 99) / 100), greatest(1, (99 * n.n + 99) / 100))))"""
    (scan, elapsed) = timed("full scan of the window", lambda: json.loads(sql(query)))
    n = scan["count"]
    ranks = {int(k): v for k, v in scan["ranks"].items()}
    want = {
        "messages": scan["messages"],
        "by_status": scan["by_status"],
        "errors": {int(k): v for k, v in scan["errors"].items()},
        "delivery_time_ms": {"count": n, "avg": scan["sum"] / n, "min": ranks[1], "max": ranks[n],
                             **{f"p{p}": ranks[max(1, (p * n + 99) // 100)] for p in (50, 90, 95, 99)}},
    }
    return want, elapsed * 1000


def check(answer, want):
    got = {
        "messages": answer["messages"],
        "by_status": answer["by_status"],
        "errors": {e["code"] or 0: e["count"] for e in answer["errors"]},
        "delivery_time_ms": answer["delivery_time_ms"],
    }
    return got == want, got


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    tenant = int(sql("SELECT tenant_id FROM tenants WHERE name = 'local'"))
    rows = []
    all_exact = True
    for size in [int(s) for s in args.sizes.split(",")]:
        log(f"{size} messages over {DAYS} days")
        reset()
        start = sql(f"SELECT now() - interval '{DAYS} days'")
        sql(f"SELECT wagate_ensure_message_partitions(('{start}'::timestamptz - interval '1 month')::date, 5)",
            dsn=ENV["WAGATE_PG_DSN"])  # owned by the application's role, like the ones maintenance creates
        _, load_s = timed("load (generate_series, 2 connections, indexes built after)",
                          lambda: load(tenant, size, start, "SM" + os.urandom(2).hex()))
        _, rollup_s = timed("rollup job, first run (every hour)", lambda: maint_job(ENV, "rollup"))
        _, incremental_s = timed("rollup job, next run (nothing changed)", lambda: maint_job(ENV, "rollup"))
        rollup_rows = int(sql("SELECT (SELECT count(*) FROM delivery_rollup_counts) + "
                              "(SELECT count(*) FROM delivery_rollup_times)"))

        now = sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
        month_ago = sql("SELECT to_char((now() - interval '30 days') AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
        client = Client()
        window = {"from": month_ago, "to": now}
        answer = client.get(window)
        want, scan_ms = full_scan(tenant, month_ago, now)
        exact, got = check(answer, want)
        if not exact:
            log(f"  NOT EXACT: endpoint {got} != full scan {want}")
        all_exact = all_exact and exact
        results = {}
        for label, params in [("30d, daily series", window),
                              ("30d, hourly series", {**window, "granularity": "hour"}),
                              ("30d, one sender", {**window, "sender": SENDER})]:
            results[label], _ = timed(f"{args.requests} requests, {label}",
                                      lambda p=params: latencies(client, p, args.requests))
        rows.append((size, load_s, rollup_s, incremental_s, rollup_rows, answer["messages"], scan_ms, exact, results))

    print("delivery-metrics benchmark: GET /api/v1/whatsapp/delivery-metrics for a 30-day window ending now,")
    print(f"sequential requests over one kept-alive HTTPS connection through nginx ({args.requests} per row)")
    print()
    print(f"{'messages':>10} {'in window':>10} {'load s':>7} {'rollup s':>8} {'next s':>6} {'rollup rows':>11} "
          f"{'scan ms':>8} {'exact':>5}  {'request':<20} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for size, load_s, rollup_s, incremental_s, rollup_rows, in_window, scan_ms, exact, results in rows:
        first = True
        for label, r in results.items():
            lead = (f"{size:>10} {in_window:>10} {load_s:>7.0f} {rollup_s:>8.1f} {incremental_s:>6.2f} "
                    f"{rollup_rows:>11} {scan_ms:>8.0f} {'yes' if exact else 'NO':>5}") if first else " " * 73
            print(f"{lead}  {label:<20} {r['p50']:>7.2f} {r['p99']:>7.2f} {r['max']:>7.2f}")
            first = False
    print()
    print("load: generate_series into the real messages table; rollup: wagate-maint run --once --job rollup;")
    print("scan ms: the same window's numbers by a full scan of messages; exact: the endpoint equals that scan.")
    return 0 if all_exact else 1


if __name__ == "__main__":
    sys.exit(main())
