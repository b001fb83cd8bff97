#!/usr/bin/env python3
"""Deploy overhead: the console's deploy of a container against the same steps done by hand
with the docker CLI, on the same engine, the same images and the same health gate.

`flightdeck demo` makes two containers of one demo service with identical settings: `dev`,
which the console deploys through its API, and `cli`, which this script switches with the
docker CLI exactly as the Docker adapter does (create the new container from the same
settings, stop the old one, keep it under another name, start the new one, then wait until
it has been healthy for the bake time: running, its own HEALTHCHECK not starting or
unhealthy, and its health URL answering, looked at once a second; then remove kept
containers beyond `keep_previous`). Runs alternate between the two, switching between the
healthy demo versions 1.0.0 and 1.1.0 each time.

The console's time is from sending the request to seeing the deploy finished (polled every
50 ms); the CLI's is from the first docker command to the end of its health wait. Both wait
for the image's HEALTHCHECK (every 5 s) and the same bake, so most of either is waiting: the
ratio says what the console adds to that.

Usage: deploy.py FLIGHTDECK_BINARY WORKDIR [RUNS]
"""

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

SERVICE = "fd-bench-deploy"
BAKE_SECONDS = 5
KEEP_PREVIOUS = 2
VERSIONS = ["1.0.0", "1.1.0"]


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker(*args, check=True):
    done = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        sys.exit(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def http_ok(url, timeout=0.5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError):
        return False


def cli_switch(name, port, image):
    """The Docker adapter's switch and health gate, done with the docker CLI."""
    label = docker("inspect", "-f", '{{index .Config.Labels "flightdeck.demo.service"}}', name)
    docker("create", "--name", f"{name}-next", "-p", f"127.0.0.1:{port}:8080",
           "--stop-timeout", "1", "--label", f"flightdeck.demo.service={label}", image)
    docker("stop", name)
    docker("rename", name, f"{name}-prev-{int(time.time() * 1000)}")
    docker("rename", f"{name}-next", name)
    docker("start", name)
    healthy_since = None
    deadline = time.monotonic() + 60
    while True:
        state = docker("inspect", "-f",
                       "{{.State.Running}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                       name).split()
        running, health = state[0] == "true", (state[1] if len(state) > 1 else "")
        if not running or health == "unhealthy":
            sys.exit(f"{name} on {image} is not healthy: {state}")
        if health != "starting" and http_ok(f"http://127.0.0.1:{port}/health"):
            healthy_since = healthy_since or time.monotonic()
            if time.monotonic() - healthy_since >= BAKE_SECONDS:
                break
        else:
            healthy_since = None
        if time.monotonic() > deadline:
            sys.exit(f"{name} on {image} was not healthy within 60 s")
        time.sleep(1)
    kept = sorted(docker("ps", "-a", "--filter", f"name={name}-prev-",
                         "--format", "{{.Names}}").split(), reverse=True)
    for old in kept[KEEP_PREVIOUS:]:
        docker("rm", "-f", old)


class Console:
    def __init__(self, binary, work, config, port):
        self.base = f"http://127.0.0.1:{port}"
        db = f"sqlite://{work}/bench.db"
        self.token = subprocess.run(
            [binary, "token", "create", "bench", "--role", "deployer", "--database-url", db],
            capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        self.log = open(os.path.join(work, "server.log"), "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--config", config, "--database-url", db,
             "--addr", f"127.0.0.1:{port}"], stdout=self.log, stderr=self.log)
        for _ in range(100):
            if http_ok(f"{self.base}/readyz"):
                return
            time.sleep(0.1)
        sys.exit(f"the console did not start; see {work}/server.log")

    def call(self, method, path, body=None):
        request = urllib.request.Request(
            self.base + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.load(r)

    def deploy(self, version, key):
        job = self.call("POST", "/api/v1/deployments", {
            "environment": "dev", "service": SERVICE, "version": version,
            "idempotency_key": key})
        while job["state"] in ("queued", "running", "verifying"):
            time.sleep(0.05)
            job = self.call("GET", f"/api/v1/deployments/{job['id']}")
        if job["state"] != "succeeded":
            sys.exit(f"the console's deploy of {version} ended {job['state']}: {job['reason']}")
        return job

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def main():
    binary, work = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    dev_port, cli_port, console_port = free_port(), free_port(), free_port()
    config = os.path.join(work, "deploy-bench.toml")
    with open(config, "w") as f:
        f.write(f"""[health]
interval = "1s"
timeout = "500ms"
slow_after = "300ms"

[deploy]
bake = "{BAKE_SECONDS}s"
deadline = "60s"
keep_previous = {KEEP_PREVIOUS}

[[environment]]
name = "dev"
docker = {{}}

[[environment]]
name = "cli"
docker = {{}}

[[service]]
name = "{SERVICE}"
targets.dev = {{ container = "{SERVICE}-dev", health_url = "http://127.0.0.1:{dev_port}/health" }}
targets.cli = {{ container = "{SERVICE}-cli", health_url = "http://127.0.0.1:{cli_port}/health" }}
""")
    subprocess.run([binary, "demo", "--config", config], check=True, stdout=subprocess.DEVNULL)
    console = None
    try:
        console = Console(binary, work, config, console_port)
        repo = docker("inspect", "-f", "{{.Config.Image}}", f"{SERVICE}-cli").rsplit(":", 1)[0]
        console_times, cli_times = [], []
        # The demo starts dev on 1.1.0 and cli on 1.0.0; each run moves both to the other one.
        for run in range(runs):
            dev_version = VERSIONS[run % 2]
            cli_version = VERSIONS[(run + 1) % 2]
            started = time.monotonic()
            last_job = console.deploy(dev_version, f"bench-{run}-{time.time_ns()}")
            console_times.append(time.monotonic() - started)
            started = time.monotonic()
            cli_switch(f"{SERVICE}-cli", cli_port, f"{repo}:{cli_version}")
            cli_times.append(time.monotonic() - started)
            print(f"  run {run + 1}: console {console_times[-1]:6.2f} s   "
                  f"docker CLI {cli_times[-1]:6.2f} s   "
                  f"ratio {console_times[-1] / cli_times[-1]:.2f}", flush=True)
    finally:
        if console:
            console.stop()
        subprocess.run([binary, "demo", "--remove", "--config", config],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c_med, d_med = statistics.median(console_times), statistics.median(cli_times)
    print()
    print("The console's last deploy, step by step (seconds after it was queued):")
    for step in last_job["steps"]:
        at = (step["at"] - last_job["created_at"]) / 1000
        print(f"  {at:6.2f}  {step['message']}")
    print()
    print(f"Deploy overhead ({runs} runs each, bake {BAKE_SECONDS} s, image HEALTHCHECK every 5 s, "
          f"{os.cpu_count()} cores)")
    print(f"  console:    median {c_med:.2f} s  (min {min(console_times):.2f}, "
          f"max {max(console_times):.2f})")
    print(f"  docker CLI: median {d_med:.2f} s  (min {min(cli_times):.2f}, "
          f"max {max(cli_times):.2f})")
    print(f"  ratio of medians: {c_med / d_med:.2f}  "
          f"(console adds {c_med - d_med:+.2f} s per deploy)")


if __name__ == "__main__":
    main()
