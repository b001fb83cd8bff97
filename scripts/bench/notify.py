#!/usr/bin/env python3
"""Notification benchmark: 1,000 events delivered to a webhook receiver on loopback.

The console runs with one signed webhook target pointing at a receiver in this process (a
threaded HTTP server that answers 204 and notes when each message arrived). A deployer's API
token declares one incident and then adds 999 notes to it, one request after another; each
declaration and note is an event written with the change, fanned out and sent by the console.
For every event: the time from sending the request that made it to the receiver getting it
(end to end: API, store, outbox, fan-out, send). Prints p50/p99 of that, how long the whole
run took from the first request to the last delivery, and events delivered per second.

Usage: notify.py FLIGHTDECK_BINARY WORKDIR [EVENTS]
"""

import http.client
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time

SECRET = "whsec_" + "QmVuY2htYXJrU2VjcmV0S2V5MDEyMzQ1"


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.arrived = {}
        self.lock = threading.Lock()
        self.done = threading.Condition(self.lock)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length))
        now = time.monotonic()
        with self.server.lock:
            for event in body["data"]["events"]:
                # The last marker: a note's text also carries the incident's title.
                found = re.findall(r"n(\d+)n", event["text"])
                if found:
                    self.server.arrived.setdefault(int(found[-1]), now)
            self.server.done.notify_all()
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    binary, workdir = sys.argv[1], sys.argv[2]
    events = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = receiver.server_address[1]

    config = os.path.join(workdir, "notify.toml")
    with open(config, "w") as f:
        f.write('[[environment]]\nname = "production"\ndocker = { host = "unix:///nonexistent.sock" }\n\n'
                '[[service]]\nname = "shop"\ntargets.production = { container = "shop" }\n\n'
                f'[[notify]]\nname = "bench"\nurl = "http://127.0.0.1:{port}/hook"\n'
                'format = "webhook"\nsecret_env = "BENCH_NOTIFY_SECRET"\n')
    database = f"sqlite://{os.path.join(workdir, 'notify.db')}"
    token = subprocess.run([binary, "token", "create", "bench", "--role", "deployer",
                            "--database-url", database],
                           check=True, capture_output=True, text=True).stdout.strip()
    env = dict(os.environ, BENCH_NOTIFY_SECRET=SECRET)
    console = subprocess.Popen(
        [binary, "serve", "--addr", "127.0.0.1:0", "--config", config, "--database-url", database],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    console_port = None
    for line in console.stderr:
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if found:
            console_port = int(found.group(1))
            break
    if console_port is None:
        raise SystemExit("the console did not start")
    threading.Thread(target=lambda: [None for _ in console.stderr], daemon=True).start()
    api = http.client.HTTPConnection("127.0.0.1", console_port)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(path, body):
        api.request("POST", path, json.dumps(body), headers)
        response = api.getresponse()
        data = response.read()
        if response.status >= 300:
            raise SystemExit(f"POST {path}: {response.status} {data[:200]!r}")
        return json.loads(data) if data else None

    sent = {}
    try:
        sent[0] = time.monotonic()
        incident = post("/api/v1/incidents", {"title": "Benchmark n0n", "severity": "SEV3",
                                               "environments": "production"})["id"]
        for n in range(1, events):
            sent[n] = time.monotonic()
            post(f"/api/v1/incidents/{incident}/notes", {"note": f"note n{n}n"})
        deadline = time.monotonic() + 300
        with receiver.lock:
            while len(receiver.arrived) < events and time.monotonic() < deadline:
                receiver.done.wait(timeout=1)
            arrived = dict(receiver.arrived)
    finally:
        console.terminate()
        console.wait()
        receiver.shutdown()

    latencies = [(arrived[n] - sent[n]) * 1000 for n in sent if n in arrived]
    if len(arrived) < events:
        print(f"  only {len(arrived)} of {events} events arrived within 5 minutes")
    total = max(arrived.values()) - sent[0]
    print(f"Notifications: {events} events (1 declaration, {events - 1} notes) to a signed webhook on loopback")
    print(f"  delivered:        {len(arrived)} of {events}")
    print(f"  end to end:       p50 {percentile(latencies, 50):.1f} ms   p99 {percentile(latencies, 99):.1f} ms")
    print(f"  whole run:        {total:.2f} s, {len(arrived) / total:.0f} events/s delivered")


if __name__ == "__main__":
    main()
