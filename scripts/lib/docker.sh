# The Docker Engine for the Docker tests and the demo: the engine the machine already runs, or
# one we start ourselves, which we then (and only then) stop again.

DOCKERD_STARTED=0
DOCKER_SOCKET=/var/run/docker.sock
DOCKERD_LOG=/tmp/flightdeck-dockerd.log
# Our own pid file, so stopping never touches an engine someone else started.
DOCKERD_PIDFILE=/var/run/flightdeck-dockerd.pid

docker_answers() {
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# Installs and starts an engine when none answers; fails (returns 1) with the reason, so a
# caller that can do without one goes on.
start_docker_engine() {
  # docker.io brings dockerd, the docker CLI and containerd; busybox-static is the root file
  # system of the test images (no registry is needed to build them).
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    ensure_apt docker.io || return 1
  fi
  ensure_apt busybox-static || return 1
  docker_answers && return 0
  say "Starting the Docker Engine (dockerd); it is stopped again at the end"
  as_root sh -c "setsid dockerd --host unix://$DOCKER_SOCKET --pidfile $DOCKERD_PIDFILE \
    >$DOCKERD_LOG 2>&1 < /dev/null &"
  DOCKERD_STARTED=1
  for _ in $(seq 1 120); do
    docker_answers && return 0
    sleep 0.5
  done
  say "The Docker Engine did not start within 60 s; see $DOCKERD_LOG"
  return 1
}

ensure_docker_engine() {
  start_docker_engine || die "no Docker Engine (above)"
}

stop_docker_engine() {
  [ "$DOCKERD_STARTED" -eq 1 ] || return 0
  DOCKERD_STARTED=0
  local pid
  pid="$(cat "$DOCKERD_PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] || return 0
  say "Stopping the Docker Engine we started"
  as_root kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  as_root kill -9 "$pid" 2>/dev/null || true
}
