#!/usr/bin/env python3
"""Logs benchmark: a container writing about 5,000 lines/s, followed by 20 viewers at once.

`flightdeck demo` builds the demo image (a static busybox); a container of it runs a shell loop
that writes 50 lines, then pauses 10 ms, for the whole run. Twenty followers open the console's
live stream of its logs (`GET /api/v1/logs/bench/SERVICE/events`, one deployer token, the
per-person limit raised for the run) and read it for BENCH seconds. One of them notes, for
every line, the time from the Docker Engine's timestamp of the line (when the engine got it)
to the moment the line arrived here: the end-to-end lag through the engine's logs endpoint,
the console (redaction, filter, buffer) and the stream. The others count lines.

Prints the lines written per second (as the followers saw them), the lines per second the
console delivered to all followers together, lag p50/p99, how many followers were cut off for
reading too slowly, and the console's CPU (share of one core) and RSS (peak) over the run.

Usage: logs.py FLIGHTDECK_BINARY WORKDIR [SECONDS]
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

SERVICE = "fd-bench-logs"
FOLLOWERS = 20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
AT = re.compile(rb'"at":(\d+)')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker(*args):
    done = subprocess.run(["docker", *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Follower(threading.Thread):
    """One viewer: a raw HTTP/1.1 stream, read until told to stop."""

    def __init__(self, port, token, measure, stop):
        super().__init__(daemon=True)
        self.port, self.token, self.measure, self.stop = port, token, measure, stop
        self.lines = 0
        self.ended = 0
        self.lags = []

    def run(self):
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall((f"GET /api/v1/logs/bench/{SERVICE}/events HTTP/1.1\r\n"
                      f"Host: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n"
                      "Accept: text/event-stream\r\n\r\n").encode())
        sock.settimeout(1)
        while not self.stop.is_set():
            try:
                chunk = sock.recv(1 << 16)
            except socket.timeout:
                continue
            if not chunk:
                break
            now_ms = time.time() * 1000
            self.lines += chunk.count(b"event: line")
            self.ended += chunk.count(b"event: ended")
            if self.measure:
                self.lags.extend(now_ms - int(at) for at in AT.findall(chunk))
        sock.close()


def main():
    binary, work = sys.argv[1], sys.argv[2]
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    port, service_port = free_port(), free_port()
    config = os.path.join(work, "logs-bench.toml")
    with open(config, "w") as f:
        f.write(f"""[logs]
max_follows_per_person = {FOLLOWERS}

[[environment]]
name = "bench"
docker = {{}}

[[service]]
name = "{SERVICE}"
targets.bench = {{ container = "{SERVICE}", health_url = "http://127.0.0.1:{service_port}/health" }}
""")
    # The demo's image; its container is replaced by one that writes lines as fast as asked.
    subprocess.run([binary, "demo", "--config", config], check=True, stdout=subprocess.DEVNULL)
    image = docker("inspect", "-f", "{{.Config.Image}}", SERVICE)
    docker("rm", "-f", SERVICE)
    docker("run", "-d", "--name", SERVICE, image, "/bin/sh", "-c",
           "i=0; while :; do i=$((i+1)); for j in 1 2 3 4 5 6 7 8 9 10; do "
           "echo \"GET /orders/$i-$j 200 in 3 ms user=bench-$j request=abcdef0123456789\"; "
           "echo \"GET /health 200 in 1 ms user=probe request=0123456789abcdef\"; "
           "echo \"POST /checkout/$i 201 in 12 ms user=bench-$j request=fedcba9876543210\"; "
           "echo \"GET /static/app.css 304 in 0 ms user=bench-$j request=00112233445566\"; "
           "echo \"db pool: 4 of 16 connections in use, wait 0 ms (request $i-$j)\" >&2; "
           "done; usleep 10000; done")

    db = f"sqlite://{work}/logs-bench.db"
    token = subprocess.run([binary, "token", "create", "bench", "--role", "deployer",
                            "--database-url", db],
                           capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    log = open(os.path.join(work, "logs-server.log"), "w")
    console = subprocess.Popen([binary, "serve", "--config", config, "--database-url", db,
                                "--addr", f"127.0.0.1:{port}"], stdout=log, stderr=log)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=0.5)
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        else:
            sys.exit(f"the console did not start; see {work}/logs-server.log")
        stop = threading.Event()
        followers = [Follower(port, token, measure=(n == 0), stop=stop) for n in range(FOLLOWERS)]
        cpu_before = cpu_seconds(console.pid)
        started = time.monotonic()
        for f in followers:
            f.start()
        time.sleep(seconds)
        stop.set()
        for f in followers:
            f.join(timeout=5)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(console.pid) - cpu_before
        peak_kib = status_kib(console.pid, "VmHWM")
    finally:
        console.terminate()
        console.wait(timeout=30)
        subprocess.run(["docker", "rm", "-f", SERVICE], capture_output=True)
        subprocess.run([binary, "demo", "--remove", "--config", config],
                       capture_output=True)

    measured = followers[0]
    delivered = sum(f.lines for f in followers)
    print(f"Logs: a container writing lines for {seconds} s, followed by {FOLLOWERS} viewers")
    print(f"  written:             {measured.lines / elapsed:,.0f} lines/s (as one follower saw them)")
    print(f"  delivered:           {delivered / elapsed:,.0f} lines/s to all followers together"
          f" ({min(f.lines for f in followers):,} to {max(f.lines for f in followers):,} lines each)")
    if measured.lags:
        print(f"  lag, engine to here: p50 {percentile(measured.lags, 50):.0f} ms   "
              f"p99 {percentile(measured.lags, 99):.0f} ms")
    print(f"  cut off (too slow):  {sum(1 for f in followers if f.ended)} of {FOLLOWERS}")
    print(f"  console:             {cpu / elapsed * 100:.0f} % of one core, "
          f"peak RSS {peak_kib // 1024} MiB")


if __name__ == "__main__":
    main()
