# syntax=docker/dockerfile:1
# netstream-publisher container image.
#
# The build stage installs the package and its dependencies into a virtualenv (every dependency ships
# binary wheels) and compiles the package's per-reading modules with mypyc (the compiled build, see
# docs/performance.md; gcc is needed for that, in this stage only; --build-arg PUBLISHER_COMPILE=0 builds
# the pure-Python package instead); the runtime stage copies only that virtualenv onto a clean slim Python
# and runs it as the unprivileged user 10001. Build from the repository root and tag the image with
# the package version (pyproject.toml), which is the Helm chart's appVersion:
#
#   docker build -t <registry>/netstream-publisher:<version> .
#
# No HEALTHCHECK: on Kubernetes the chart's probes call /healthz and /readyz on PUBLISHER_HTTP_PORT.

ARG PYTHON_IMAGE=python:3.11-slim

# ------------------------------------------------------------------------------------------------ build
FROM ${PYTHON_IMAGE} AS build

ARG PUBLISHER_COMPILE=1

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN if [ "$PUBLISHER_COMPILE" = "1" ]; then \
        apt-get update \
     && apt-get install --yes --no-install-recommends gcc libc6-dev \
     && rm -rf /var/lib/apt/lists/*; \
    fi \
 && python -m venv /opt/netstream-publisher

WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY schemas ./schemas
COPY publisher ./publisher

# --version names the build (compiled or interpreted); the grep fails the build on a partly compiled package
RUN /opt/netstream-publisher/bin/pip install --upgrade pip \
 && /opt/netstream-publisher/bin/pip install . \
 && cd / \
 && /opt/netstream-publisher/bin/netstream-publisher --version | tee /dev/stderr \
    | grep -q "($([ "$PUBLISHER_COMPILE" = "1" ] && echo compiled || echo interpreted))"

# ---------------------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="netstream-publisher" \
      org.opencontainers.image.description="Publishes Netstream (SBS) smart-meter readings to Kafka as Avro events, exactly once."

RUN groupadd --system --gid 10001 publisher \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin publisher

COPY --from=build /opt/netstream-publisher /opt/netstream-publisher

ENV PATH=/opt/netstream-publisher/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /tmp
USER 10001:10001
EXPOSE 8080

ENTRYPOINT ["netstream-publisher"]
CMD ["run"]
