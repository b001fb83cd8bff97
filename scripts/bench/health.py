#!/usr/bin/env python3
"""Health benchmark: Flightdeck's prober against Prometheus's blackbox exporter.

Both probe the same 1,000 targets on loopback (one test server, one path per target) every 10 s
for the same duration. The test server counts what actually arrived, so the figures are taken
the same way for both: probes/s achieved, and missed intervals (a target's 10 s window with no
probe at all). CPU seconds and peak RSS are read from /proc for the prober's process only (the
blackbox exporter's driver, which plays Prometheus, is not counted).

"Hung up" counts connections the prober closed before the test server had answered.

Usage: health.py FLIGHTDECK_BINARY WORKDIR [SECONDS] [both|flightdeck|blackbox]
"""

import concurrent.futures
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

TARGETS = 1000
INTERVAL = 10
CONCURRENCY = 64
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Hits:
    def __init__(self):
        self.lock = threading.Lock()
        self.times = [[] for _ in range(TARGETS)]
        self.recording = False

    def hit(self, target):
        now = time.monotonic()
        with self.lock:
            if self.recording:
                self.times[target].append(now)

    def start(self):
        with self.lock:
            self.times = [[] for _ in range(TARGETS)]
            self.recording = True
            self.started = time.monotonic()

    def stop(self):
        with self.lock:
            self.recording = False
            self.stopped = time.monotonic()
            return self.times, self.started, self.stopped


HITS = Hits()
BODY = b'{"status":"ok","version":"1.0.0"}'


class Handler(http.server.BaseHTTPRequestHandler):
    # One connection per probe, as the blackbox exporter does anyway: the same work for both.
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        try:
            target = int(self.path.rsplit("/", 1)[1])
        except ValueError:
            target = -1
        if 0 <= target < TARGETS:
            HITS.hit(target)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Both probers open up to 64 connections at once; the default backlog of 5 drops SYNs.
    request_queue_size = 1024
    aborted = 0

    def handle_error(self, request, client_address):
        # A prober that hung up before the answer was written (its timeout): counted, not
        # printed.
        Server.aborted += 1


def serve_targets():
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_for(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def measure(name, pid, seconds, during=None):
    """Records hits and the process's CPU for `seconds`, skipping one interval of warm-up."""
    time.sleep(INTERVAL)
    cpu_before = proc_cpu_seconds(pid)
    HITS.start()
    if during:
        during(seconds)
    else:
        time.sleep(seconds)
    times, started, stopped = HITS.stop()
    cpu = proc_cpu_seconds(pid) - cpu_before
    aborted, Server.aborted = Server.aborted, 0
    # A target's interval is missed when no probe arrives within it: a gap between two probes
    # of more than 1.5 intervals counts as the intervals it skipped, and so do the stretches
    # before the first probe and after the last one.
    missed = 0
    longest_gap = 0.0
    for hits in times:
        longest_gap = max([longest_gap] + [b - a for a, b in zip(hits, hits[1:])])
        points = [started] + hits + [stopped]
        for a, b in zip(points, points[1:]):
            if b - a > 1.5 * INTERVAL:
                missed += round((b - a) / INTERVAL) - 1
    windows = int((stopped - started) // INTERVAL)
    total = sum(len(h) for h in times)
    return {
        "name": name,
        "probes_per_s": total / (stopped - started),
        "expected_per_s": TARGETS / INTERVAL,
        "missed": missed,
        "windows": windows * TARGETS,
        "longest_gap_s": longest_gap,
        "aborted": aborted,
        "cpu_s": cpu,
        "peak_rss_mib": proc_peak_rss_mib(pid),
    }


def run_flightdeck(binary, work, port, seconds):
    config = os.path.join(work, "health-bench.toml")
    with open(config, "w") as f:
        f.write('[health]\ninterval = "10s"\ntimeout = "3s"\nslow_after = "1s"\n\n')
        f.write('[[environment]]\nname = "bench"\necs = { region = "eu-west-1", cluster = "bench" }\n\n')
        for i in range(TARGETS):
            f.write(f'[[service]]\nname = "target-{i:04d}"\n')
            f.write(f'targets.bench = {{ service = "t{i}", health_url = "http://127.0.0.1:{port}/t/{i}" }}\n\n')
    app_port = free_port()
    proc = subprocess.Popen(
        [binary, "serve", "--config", config, "--addr", f"127.0.0.1:{app_port}",
         "--database-url", f"sqlite://{work}/health-bench.db"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "health-bench.log"), "w"),
        env={**os.environ, "FLIGHTDECK_LOG": "warn"},
    )
    try:
        wait_for(f"http://127.0.0.1:{app_port}/readyz")
        return measure("flightdeck", proc.pid, seconds)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def run_blackbox(work, port, seconds):
    config = os.path.join(work, "blackbox.yml")
    with open(config, "w") as f:
        f.write("modules:\n  http_2xx:\n    prober: http\n    timeout: 3s\n"
                "    http:\n      preferred_ip_protocol: ip4\n")
    bb_port = free_port()
    proc = subprocess.Popen(
        ["prometheus-blackbox-exporter", f"--config.file={config}",
         f"--web.listen-address=127.0.0.1:{bb_port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "blackbox.log"), "w"),
    )
    urls = [
        f"http://127.0.0.1:{bb_port}/probe?module=http_2xx&target="
        + urllib.parse.quote(f"http://127.0.0.1:{port}/t/{i}", safe="")
        for i in range(TARGETS)
    ]

    def scrape(url):
        try:
            urllib.request.urlopen(url, timeout=5).read()
        except Exception:
            pass

    def drive(seconds):
        # Plays Prometheus: every 10 s, scrape /probe once per target, 64 at a time.
        end = time.monotonic() + seconds
        with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
            next_round = time.monotonic()
            while next_round < end:
                list(pool.map(scrape, urls))
                next_round += INTERVAL
                time.sleep(max(0.0, min(next_round, end) - time.monotonic()))

    try:
        wait_for(f"http://127.0.0.1:{bb_port}/metrics")
        # The warm-up interval is driven too, so the exporter is in its steady state.
        warm = threading.Thread(target=drive, args=(INTERVAL,))
        warm.start()
        result = measure("blackbox exporter", proc.pid, seconds, during=drive)
        warm.join()
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    binary, work = sys.argv[1], sys.argv[2]
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 120
    port = serve_targets()
    print(f"Health: {TARGETS} targets on 127.0.0.1:{port}, every {INTERVAL} s, "
          f"measured for {seconds} s after {INTERVAL} s of warm-up", flush=True)
    only = sys.argv[4] if len(sys.argv) > 4 else "both"
    results = []
    if only in ("both", "flightdeck"):
        results.append(run_flightdeck(binary, work, port, seconds))
    if only in ("both", "blackbox"):
        results.append(run_blackbox(work, port, seconds))
    print(f"{'prober':<20} {'probes/s':>9} {'(target)':>9} {'missed':>12} {'longest gap':>12} "
          f"{'CPU s':>7} {'peak RSS':>10} {'hung up':>8}")
    for r in results:
        print(f"{r['name']:<20} {r['probes_per_s']:>9.1f} {r['expected_per_s']:>9.1f} "
              f"{r['missed']:>5}/{r['windows']:<6} {r['longest_gap_s']:>10.2f} s "
              f"{r['cpu_s']:>7.2f} {r['peak_rss_mib']:>7.1f} MiB {r['aborted']:>8}")


if __name__ == "__main__":
    main()
