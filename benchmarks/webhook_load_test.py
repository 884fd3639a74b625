"""Load test of the webhook receiver: is every acknowledged delivery stored, and how fast?

Starts a private embedded PostgreSQL (own LEADLINK_HOME, port and database) and `leadlink serve`
as a subprocess, then sends N deliveries (default 10,000) from C concurrent clients (default 200)
on keep-alive connections to 127.0.0.1: half Knowlarity bodies (wrapped, flat, SR hook CDR, live
event; some without a phone), half signed Meta leadgen notifications (1-3 changes, some ids as
JSON numbers), with 5% redeliveries of earlier bodies byte for byte. In the middle it restarts the
database (`leadlink db down`, a pause, `leadlink db up`).

Afterwards it checks, in the database: every delivery answered 200 is stored (Knowlarity: its call
uuid in raw.knowlarity_calls; Meta: its body in raw.webhook_deliveries and each leadgen_id in
raw.meta_leadgen_queue), redeliveries added no rows; then it re-sends what was refused (as a sender
would) and checks that everything is stored in the end. It prints deliveries, acknowledged,
stored, lost (must be 0) and latency percentiles, overall and while the database was up.

    .venv/bin/python benchmarks/webhook_load_test.py                 # paced: 500 deliveries/s
    .venv/bin/python benchmarks/webhook_load_test.py --rate 0        # closed loop: saturation

`--rate R` paces the deliveries (R per second in total, spread over the clients, as real senders
push); `--rate 0` lets every client send its next delivery as soon as the last is answered, which
measures the maximum throughput (and then latency is just concurrency / throughput).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg2

from leadlink.runtime.ports import free_port

PROJECT_DIR = Path(__file__).resolve().parents[1]
LEADLINK = [sys.executable, "-m", "leadlink.cli.main"]
SECRET = "bench-app-secret-" + uuid.uuid4().hex
TOKEN = "bench-knowlarity-token-" + uuid.uuid4().hex


@dataclass
class Delivery:
    index: int
    source: str                   # knowlarity | meta
    body: bytes
    keys: list[str]               # call uuid, or leadgen ids
    redelivery_of: int | None = None
    status: int | None = None     # HTTP status, or None for a transport error
    error: str = ""
    started: float = 0.0
    finished: float = 0.0
    sha256: str = field(default="")

    @property
    def latency_ms(self) -> float:
        return (self.finished - self.started) * 1000.0


# --- bodies ----------------------------------------------------------------------------------------
def phone(rng: random.Random) -> str:
    digits = f"9{rng.randrange(10**8, 10**9)}"
    return rng.choice([f"+91{digits}", digits, f"0{digits}", f"+91 {digits[:5]}-{digits[5:]}"])


def knowlarity_body(rng: random.Random, call_uuid: str) -> dict:
    kind = rng.choice(["wrapped", "flat", "sr_hook", "live_event", "no_phone"])
    call = {"uuid": call_uuid, "customer_number": phone(rng), "knowlarity_number": "+918030001111",
            "start_time": "2025-12-06 11:11:21+05:30", "call_duration": rng.randrange(0, 600),
            "business_call_type": rng.choice(["Phone", "Missed Call", "Call Group"]),
            "Call_Type": 0, "call_recording": ""}
    if kind == "wrapped":
        return {"event": "call.completed", "data": call, "timestamp": "2025-12-06T11:16:14+05:30"}
    if kind == "sr_hook":
        return {"callid": call_uuid, "dispnumber": "+918030001111", "caller_id": phone(rng),
                "call_duration": str(rng.randrange(0, 600)), "destination": "Welcome Sound",
                "extension": "None", "hangup_cause": "900", "call_type": "incoming",
                "resource_url": "", "timezone": "Asia/Kolkata",
                "start_time": "2016-09-27 03:49:44.391601+00:00",
                "end_time": "2016-09-27 09:20:11+05:30"}
    if kind == "live_event":
        return {"event_type": "HANGUP", "uuid": call_uuid, "call_direction": "Inbound",
                "customer_number": phone(rng), "event_date_local": "2025-12-06 11:00:00",
                "leg_identifier": "customer"}
    if kind == "no_phone":
        return {**call, "customer_number": "", "caller_id": "anonymous"}
    return call


def meta_body(rng: random.Random, leadgen_ids: list[str]) -> bytes:
    changes = []
    for leadgen_id in leadgen_ids:
        numeric = rng.random() < 0.2
        value = leadgen_id if numeric else f'"{leadgen_id}"'
        organic = rng.random() < 0.3
        ads = "" if organic else ',"ad_id":"120210000000%06d","adgroup_id":"120210000001%06d"' % (
            rng.randrange(10**6), rng.randrange(10**6))
        changes.append('{"field":"leadgen","value":{"leadgen_id":%s,"page_id":"1020304050",'
                       '"form_id":"911000000000002"%s,"created_time":%d}}'
                       % (value, ads, 1765007530 + rng.randrange(10**5)))
    return ('{"object":"page","entry":[{"id":"1020304050","time":%d,"changes":[%s]}]}'
            % (1765007533, ",".join(changes))).encode()


def make_deliveries(count: int, redelivery_share: float, seed: int) -> list[Delivery]:
    rng = random.Random(seed)
    deliveries: list[Delivery] = []
    next_lead = 10**17 + rng.randrange(10**15)
    for index in range(count):
        if index > 300 and rng.random() < redelivery_share:
            original = deliveries[rng.randrange(0, index - 200)]
            while original.redelivery_of is not None:
                original = deliveries[original.redelivery_of]
            deliveries.append(Delivery(index, original.source, original.body, original.keys,
                                       original.index))
            continue
        if rng.random() < 0.5:
            call_uuid = str(uuid.UUID(int=rng.getrandbits(128)))
            body = json.dumps(knowlarity_body(rng, call_uuid)).encode()
            deliveries.append(Delivery(index, "knowlarity", body, [call_uuid]))
        else:
            ids = []
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                next_lead += rng.randrange(1, 1000)
                ids.append(str(next_lead))
            deliveries.append(Delivery(index, "meta", meta_body(rng, ids), ids))
    for delivery in deliveries:
        delivery.sha256 = hashlib.sha256(delivery.body).hexdigest()
    return deliveries


# --- processes -------------------------------------------------------------------------------------
def leadlink(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*LEADLINK, *args], env=env, cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"leadlink {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout.strip()


def wait_healthy(base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the receiver did not become healthy")


# --- sending ---------------------------------------------------------------------------------------
class Connection:
    """A minimal HTTP/1.1 keep-alive client connection. httpx's AsyncClient spends several ms of
    CPU per request at this concurrency on a 2-core machine and would mostly measure itself."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                          f"Content-Length: {len(body)}\r\n{lines}\r\n".encode() + body)
        try:
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 30)
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            length, close = 0, False
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
                elif name.strip().lower() == "connection" and "close" in value.lower():
                    close = True
            if length:
                await self.reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return int(status_line.split()[1])


def request_for(delivery: Delivery) -> tuple[str, dict[str, str]]:
    if delivery.source == "meta":
        signature = "sha256=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
        return "/webhooks/meta", {"X-Hub-Signature-256": signature,
                                  "Content-Type": "application/json"}
    return "/webhooks/knowlarity", {"X-Leadlink-Token": TOKEN, "Content-Type": "application/json"}


async def send(connection: Connection, delivery: Delivery) -> None:
    path, headers = request_for(delivery)
    delivery.started = time.perf_counter()
    try:
        delivery.status = await connection.post(path, delivery.body, headers)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as error:
        delivery.status = None
        delivery.error = type(error).__name__
    delivery.finished = time.perf_counter()


async def send_all(port: int, deliveries: list[Delivery], clients: int, rate: float,
                   on_progress) -> float:
    position = 0
    started = time.perf_counter()

    connections = [Connection("127.0.0.1", port) for _ in range(clients)]
    for connection in connections:  # the clients connect first; the clock starts after
        connection.reader, connection.writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()

    async def worker(connection: Connection) -> None:
        nonlocal position
        while position < len(deliveries):
            delivery = deliveries[position]
            position += 1
            if rate > 0:
                delay = started + delivery.index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await send(connection, delivery)
            on_progress(position)
        connection.close()

    await asyncio.gather(*(worker(connection) for connection in connections))
    return time.perf_counter() - started


# --- checking --------------------------------------------------------------------------------------
def stored_keys(url: str) -> tuple[set[str], set[str], set[str], dict[str, int]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("select distinct call_uuid from raw.knowlarity_calls")
            calls = {row[0] for row in cursor.fetchall()}
            cursor.execute("select leadgen_id from raw.meta_leadgen_queue")
            leads = {row[0] for row in cursor.fetchall()}
            cursor.execute("select body_sha256 from raw.webhook_deliveries where source = 'meta'")
            meta_bodies = {row[0] for row in cursor.fetchall()}
            counts = {}
            for table in ("knowlarity_calls", "meta_leadgen_queue", "webhook_deliveries",
                          "quarantine"):
                cursor.execute(f"select count(*) from raw.{table}")
                counts[table] = int(cursor.fetchone()[0])
        return calls, leads, meta_bodies, counts
    finally:
        conn.close()


def is_stored(delivery: Delivery, calls: set[str], leads: set[str], bodies: set[str]) -> bool:
    if delivery.source == "knowlarity":
        return delivery.keys[0] in calls
    return delivery.sha256 in bodies and all(key in leads for key in delivery.keys)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered))) - 1))]


# --- main ------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=500.0,
                        help="deliveries per second in total; 0 = closed loop (saturation)")
    parser.add_argument("--redeliveries", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=1,
                        help="leadlink serve --workers (its default; on 2 cores a second worker"
                             " only contends with the senders and the database)")
    parser.add_argument("--pool-size", type=int, default=8, help="connections per worker")
    parser.add_argument("--restart-at", type=float, default=0.4,
                        help="share of deliveries sent when the database goes down")
    parser.add_argument("--down-seconds", type=float, default=2.0)
    parser.add_argument("--no-restart", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-second", action="store_true", help="latency per second of the run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary LEADLINK_HOME")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="leadlink-webhook-bench-"))
    pg_port, http_port = free_port(), free_port()
    env = {**os.environ, "LEADLINK_HOME": str(home), "LEADLINK_PG_PORT": str(pg_port),
           "LEADLINK_DATABASE_NAME": "webhook_bench", "LEADLINK_PROJECT_DIR": str(PROJECT_DIR),
           "META_APP_SECRET": SECRET, "META_VERIFY_TOKEN": "bench-verify",
           "KNOWLARITY_WEBHOOK_TOKEN": TOKEN, "LEADLINK_WEBHOOK_WORKER": "off",
           "LEADLINK_WEBHOOK_POOL_SIZE": str(args.pool_size)}
    env.pop("LEADLINK_DATABASE_URL", None)
    deliveries = make_deliveries(args.deliveries, args.redeliveries, args.seed)
    server = None
    log_path = home / "serve.log"
    try:
        print(f"starting embedded PostgreSQL in {home} (port {pg_port})", flush=True)
        leadlink(env, "db", "up")
        url = leadlink(env, "db", "url")
        log_file = open(log_path, "w")
        server = subprocess.Popen(
            [*LEADLINK, "serve", "--port", str(http_port), "--workers", str(args.workers)],
            env=env, cwd=PROJECT_DIR, stdout=log_file, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{http_port}"
        wait_healthy(base)
        print(f"leadlink serve on {base} ({args.workers} workers, pool {args.pool_size} each);"
              f" sending {len(deliveries)} deliveries from {args.clients} clients"
              f" ({'closed loop' if args.rate <= 0 else f'{args.rate:g}/s'})", flush=True)

        outage: dict[str, float] = {}
        restart_at = int(len(deliveries) * args.restart_at)
        restart_task: list[asyncio.Task] = []

        async def restart_database() -> None:
            outage["down_started"] = time.perf_counter()
            await asyncio.to_thread(leadlink, env, "db", "down")
            outage["down"] = time.perf_counter()
            await asyncio.sleep(args.down_seconds)
            outage["up_started"] = time.perf_counter()
            await asyncio.to_thread(leadlink, env, "db", "up")
            outage["up"] = time.perf_counter()

        def on_progress(sent: int) -> None:
            if not args.no_restart and not restart_task and sent >= restart_at:
                restart_task.append(asyncio.get_running_loop().create_task(restart_database()))

        async def run() -> float:
            elapsed = await send_all(http_port, deliveries, args.clients, args.rate, on_progress)
            if restart_task:
                await restart_task[0]
            return elapsed

        try:
            import uvloop  # noqa: PLC0415 - optional speed-up for the client side

            uvloop.install()
        except ImportError:
            pass
        elapsed = asyncio.run(run())

        calls, leads, bodies, counts = stored_keys(url)
        acknowledged = [d for d in deliveries if d.status == 200]
        refused = [d for d in deliveries if d.status != 200]
        stored = [d for d in deliveries if is_stored(d, calls, leads, bodies)]
        lost = [d for d in acknowledged if not is_stored(d, calls, leads, bodies)]
        refused_but_stored = [d for d in refused if is_stored(d, calls, leads, bodies)]
        statuses: dict[str, int] = {}
        for delivery in deliveries:
            key = str(delivery.status) if delivery.status else f"error:{delivery.error}"
            statuses[key] = statuses.get(key, 0) + 1

        window = (outage.get("down_started", float("inf")), outage.get("up", float("-inf")))

        def during_outage(delivery: Delivery) -> bool:
            return delivery.finished >= window[0] and delivery.started <= window[1]

        all_ms = [d.latency_ms for d in deliveries]
        up_ms = [d.latency_ms for d in deliveries if not during_outage(d)]
        up_ok_ms = [d.latency_ms for d in acknowledged if not during_outage(d)]

        # What a sender does with a non-200: try again later. Everything must end up stored.
        async def resend() -> None:
            connection = Connection("127.0.0.1", http_port)
            for delivery in refused:
                retry = Delivery(delivery.index, delivery.source, delivery.body, delivery.keys)
                await send(connection, retry)
            connection.close()

        if refused:
            asyncio.run(resend())
        calls, leads, bodies, counts = stored_keys(url)
        never_stored = [d for d in deliveries if not is_stored(d, calls, leads, bodies)]
        # Idempotency: redeliveries added no raw rows.
        unique_calls = {d.keys[0] for d in deliveries if d.source == "knowlarity"}
        unique_leads = {key for d in deliveries if d.source == "meta" for key in d.keys}
        unique_bodies = {d.sha256 for d in deliveries}

        print()
        redeliveries = sum(1 for d in deliveries if d.redelivery_of is not None)
        print(f"deliveries            {len(deliveries)} ({redeliveries} redeliveries;"
              f" {sum(1 for d in deliveries if d.source == 'knowlarity')} knowlarity,"
              f" {sum(1 for d in deliveries if d.source == 'meta')} meta)")
        print(f"acknowledged (200)    {len(acknowledged)}")
        print(f"refused / failed      {len(refused)}  {json.dumps(statuses, sort_keys=True)}")
        print(f"stored                {len(stored)} (of which answered non-200: {len(refused_but_stored)})")
        print(f"lost                  {len(lost)}")
        print(f"after senders' retry  {len(deliveries) - len(never_stored)} stored, "
              f"{len(never_stored)} missing")
        print(f"idempotency           knowlarity_calls rows {counts['knowlarity_calls']} for "
              f"{len(unique_calls)} calls; queue rows {counts['meta_leadgen_queue']} for "
              f"{len(unique_leads)} leadgen ids; deliveries rows {counts['webhook_deliveries']} for "
              f"{len(unique_bodies)} distinct bodies")
        print(f"elapsed               {elapsed:.1f}s, {len(deliveries) / elapsed:.0f} deliveries/s")
        if "up" in outage:
            print(f"database outage       down {outage['down'] - outage['down_started']:.1f}s "
                  f"to stop + {args.down_seconds:g}s + {outage['up'] - outage['up_started']:.1f}s"
                  f" to start; {sum(1 for d in deliveries if during_outage(d))} deliveries overlapped it")
        print(f"latency overall       p50 {percentile(all_ms, 0.50):.1f} ms, p99 "
              f"{percentile(all_ms, 0.99):.1f} ms, max {max(all_ms):.1f} ms")
        print(f"latency while DB up   p50 {percentile(up_ms, 0.50):.1f} ms, p99 "
              f"{percentile(up_ms, 0.99):.1f} ms, max {max(up_ms):.1f} ms"
              f" ({len(up_ms)} deliveries; 200s only: p99 {percentile(up_ok_ms, 0.99):.1f} ms)")
        before = [d.latency_ms for d in deliveries if d.finished < window[0]]
        after = [d.latency_ms for d in deliveries if d.started > window[1]]
        if before and after:
            print(f"  before the outage   p50 {percentile(before, 0.50):.1f} ms, p99 "
                  f"{percentile(before, 0.99):.1f} ms ({len(before)} deliveries)")
            print(f"  after the outage    p50 {percentile(after, 0.50):.1f} ms, p99 "
                  f"{percentile(after, 0.99):.1f} ms ({len(after)} deliveries)")
        if args.per_second:
            first = min(d.started for d in deliveries)
            buckets: dict[int, list[float]] = {}
            for delivery in deliveries:
                buckets.setdefault(int(delivery.started - first), []).append(delivery.latency_ms)
            for second, values in sorted(buckets.items()):
                print(f"  second {second:3d}: {len(values):5d} sent, p50 "
                      f"{percentile(values, 0.5):7.1f} ms, p99 {percentile(values, 0.99):7.1f} ms")
        load = os.getloadavg()
        print(f"machine               {os.cpu_count()} cores, load average {load[0]:.1f} "
              f"(other processes share the cores)")
        print(f"target                p99 < 50 ms while the DB is up: "
              f"{'met' if percentile(up_ms, 0.99) < 50 else 'NOT met'}; lost must be 0: "
              f"{'ok' if not lost and not never_stored else 'FAILED'}")
        return 0 if not lost and not never_stored else 1
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        try:
            leadlink(env, "db", "down")
        except Exception as error:  # noqa: BLE001 - best effort clean-up
            print(f"db down failed: {error}", file=sys.stderr)
        if args.keep:
            print(f"kept {home} (server log: {log_path})")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
