#!/usr/bin/env python3
"""Runbook search benchmark: 1,000 generated runbooks of about 5 KB each.

The console is started twice on the same configuration: once with an empty runbooks directory
and once with the 1,000 runbooks, and its resident memory (VmRSS, after start and a first
page) is read each time; the difference is what the runbooks cost. Then, as a signed-in
viewer on one keep-alive connection, it times GET /runbooks?q=... for a fixed mix of queries
(one word by prefix, a whole word, two words, a word nobody wrote). Two times per query: the
search itself, as the console measured it (the page shows it, `data-search-us`), and the whole
request (session check, search, page rendering), as a reader waits for it. Prints p50/p99 of
each per query kind and overall.

Usage: search.py FLIGHTDECK_BINARY WORKDIR [REQUESTS]
"""

import http.client
import os
import random
import re
import subprocess
import sys
import time
import urllib.parse

RUNBOOKS = 1000
TARGET_BYTES = 5000
SERVICES = 20
PASSWORD = "runbook-query-passphrase-1"


def vocabulary(rng):
    """About 3,000 made-up words (English-like lengths), plus the words runbooks really use."""
    syllables = ["ka", "lo", "re", "sta", "ri", "dis", "con", "net", "pro", "be", "ter", "mo",
                 "ver", "al", "in", "tra", "de", "fi", "gu", "po", "lat", "sen", "or", "qua"]
    words = {"restart", "database", "latency", "rollback", "deploy", "disk", "memory",
             "certificate", "queue", "timeout", "replica", "failover", "cache", "dns"}
    while len(words) < 3000:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def runbook(rng, words, n):
    title = " ".join(rng.choice(words) for _ in range(rng.randint(2, 5))).capitalize()
    service = f"service-{n % SERVICES:02d}"
    parts = [
        "+++",
        f'title = "{title} {n}"',
        f'services = ["{service}"]',
        f'tags = ["{rng.choice(words)}", "{rng.choice(words)}"]',
        'owner = "team-bench"',
        "reviewed = 2026-11-01",
        "+++",
        "",
    ]
    size = 0
    while size < TARGET_BYTES:
        if rng.random() < 0.15:
            line = "## " + " ".join(rng.choice(words) for _ in range(rng.randint(2, 4))).capitalize()
        elif rng.random() < 0.1:
            line = "```sh\n" + " ".join(rng.choice(words) for _ in range(6)) + "\n```"
        else:
            line = " ".join(rng.choice(words) for _ in range(rng.randint(12, 30))) + "."
        parts.append(line)
        parts.append("")
        size += len(line) + 2
    return "\n".join(parts)


def write_config(workdir, runbook_dir):
    lines = ["[runbooks]", f'dir = "{runbook_dir}"', "", "[[environment]]", 'name = "dev"',
             "docker = {}", ""]
    for i in range(SERVICES):
        lines += ["[[service]]", f'name = "service-{i:02d}"',
                  f'targets.dev = {{ container = "service-{i:02d}-dev" }}', ""]
    path = os.path.join(workdir, f"search-{os.path.basename(runbook_dir)}.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Console:
    def __init__(self, binary, config, database_url):
        self.process = subprocess.Popen(
            [binary, "serve", "--addr", "127.0.0.1:0", "--config", config,
             "--database-url", database_url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.port = None
        for line in self.process.stderr:
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                break
        if self.port is None:
            raise SystemExit("the console did not start")
        # Keep reading its log so it never blocks on a full pipe.
        import threading
        threading.Thread(target=lambda: [None for _ in self.process.stderr], daemon=True).start()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port)
        self.cookie = self.sign_in()

    def sign_in(self):
        body = urllib.parse.urlencode({"name": "bench", "password": PASSWORD})
        self.connection.request("POST", "/api/login", body, {
            "Origin": f"http://127.0.0.1:{self.port}",
            "Content-Type": "application/x-www-form-urlencoded"})
        response = self.connection.getresponse()
        response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("flightdeck_session="):
                return value.split(";")[0]
        raise SystemExit(f"cannot sign in: {response.status}")

    def get(self, path):
        self.connection.request("GET", path, headers={"Cookie": self.cookie})
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status}")
        return body

    def stop(self):
        self.process.terminate()
        self.process.wait()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main():
    binary, workdir = sys.argv[1], sys.argv[2]
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    rng = random.Random(20261130)
    words = vocabulary(rng)
    empty = os.path.join(workdir, "empty")
    full = os.path.join(workdir, "runbooks")
    os.makedirs(empty, exist_ok=True)
    os.makedirs(full, exist_ok=True)
    total_bytes = 0
    for n in range(RUNBOOKS):
        text = runbook(rng, words, n)
        total_bytes += len(text)
        with open(os.path.join(full, f"runbook-{n:04d}.md"), "w") as f:
            f.write(text)
    database_url = f"sqlite://{workdir}/search.db"
    subprocess.run([binary, "user", "add", "bench", "--role", "viewer", "--database-url",
                    database_url], input=PASSWORD + "\n", text=True, check=True,
                   stdout=subprocess.DEVNULL)

    baseline = Console(binary, write_config(workdir, empty), database_url)
    baseline.get("/runbooks")
    rss_empty = rss_kb(baseline.process.pid)
    baseline.stop()

    started = time.perf_counter()
    console = Console(binary, write_config(workdir, full), database_url)
    ready = time.perf_counter() - started
    listed = console.get("/runbooks")
    rss_full = rss_kb(console.process.pid)

    queries = {
        "prefix (4 letters)": [w[:4] for w in rng.sample(words, 200) if len(w) >= 4],
        "whole word": rng.sample(words, 200),
        "two words": [f"{a} {b}" for a, b in zip(rng.sample(words, 200), rng.sample(words, 200))],
        "no match": [f"zzq{n}" for n in range(200)],
    }
    for kind in queries:  # warm up
        for q in queries[kind][:20]:
            console.get("/runbooks?q=" + urllib.parse.quote(q))
    timings = {kind: [] for kind in queries}
    searches = {kind: [] for kind in queries}
    per_kind = max(1, requests // len(queries))
    for kind, qs in queries.items():
        for i in range(per_kind):
            path = "/runbooks?q=" + urllib.parse.quote(qs[i % len(qs)])
            t = time.perf_counter()
            page = console.get(path)
            timings[kind].append((time.perf_counter() - t) * 1000)
            took = re.search(rb'data-search-us="(\d+)"', page)
            if not took:
                raise SystemExit(f"no search time in the page for {path}")
            searches[kind].append(int(took.group(1)) / 1000)
    rss_after = rss_kb(console.process.pid)
    console.stop()

    print(f"Runbook search benchmark ({RUNBOOKS} runbooks, {total_bytes / RUNBOOKS / 1024:.1f} KiB "
          f"each on average, {os.cpu_count()} cores; whole GET /runbooks?q=… requests, "
          f"one keep-alive connection)")
    print(f"  start until listening: {ready * 1000:.0f} ms (reads and indexes every runbook)")
    print(f"  list page:             {len(listed)} bytes")
    print(f"  {'':<22} {'search itself':>26}   {'whole request':>26}")
    all_search, all_request = [], []
    for kind in queries:
        s, r = searches[kind], timings[kind]
        all_search += s
        all_request += r
        print(f"  {kind + ':':<22} p50 {percentile(s, 50):6.2f} ms p99 {percentile(s, 99):6.2f} ms"
              f"   p50 {percentile(r, 50):6.2f} ms p99 {percentile(r, 99):6.2f} ms"
              f"  ({len(r)} queries)")
    print(f"  {'all queries:':<22} p50 {percentile(all_search, 50):6.2f} ms "
          f"p99 {percentile(all_search, 99):6.2f} ms"
          f"   p50 {percentile(all_request, 50):6.2f} ms p99 {percentile(all_request, 99):6.2f} ms")
    print(f"  target: search p99 under 5 ms; ratio of whole request to search at p99: "
          f"{percentile(all_request, 99) / max(percentile(all_search, 99), 0.001):.1f}")
    print(f"  RSS without runbooks:  {rss_empty / 1024:.1f} MiB")
    print(f"  RSS with runbooks:     {rss_full / 1024:.1f} MiB after start, "
          f"{rss_after / 1024:.1f} MiB after the queries")
    print(f"  added by the runbooks: {(max(rss_full, rss_after) - rss_empty) / 1024:.1f} MiB "
          f"(target: under 30 MiB)")


if __name__ == "__main__":
    main()
