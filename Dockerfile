# The console as a container image. Build it with scripts/image.sh, which stages target/image:
# the release binary with the glibc libraries it links, its site, the CA roots and an empty
# /data. FROM scratch: no shell, no package manager, nothing to pull.
FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="Flightdeck" \
      org.opencontainers.image.description="A self-hosted console for environments, versions, health and deploys" \
      org.opencontainers.image.version="$VERSION"

COPY target/image/root/ /
# The only place the console writes: the SQLite file when no PostgreSQL URL is given.
COPY --chown=10001:10001 target/image/data/ /data/

ENV LEPTOS_SITE_ROOT=/usr/local/share/flightdeck/site \
    FLIGHTDECK_CONFIG=/etc/flightdeck/flightdeck.toml \
    FLIGHTDECK_DATABASE_URL=sqlite:///data/flightdeck.db \
    FLIGHTDECK_ADDR=0.0.0.0:3000
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 3000
# `flightdeck healthcheck` asks the console's /readyz (the store answers): no curl needed.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/flightdeck", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/flightdeck"]
CMD ["serve"]
