# syntax=docker/dockerfile:1
# Image of one Switchboard service. The five services are built from this one
# file; the build arguments say which (docker-compose.yml passes them, and
# tests/unit/test_compose.py checks them against each service's settings):
#   SERVICE       the service's name: ingest, classifier, router, responder or notifier
#   SERVICE_ENV   the same in capitals, as its settings spell it (SWITCHBOARD_INGEST_*)
#   SERVICE_PORT  its HTTP port, the settings' default (8001, 8002, 8003, 8004, 8005)
# Build context: the repository root, e.g.
#   docker build --build-arg SERVICE=ingest --build-arg SERVICE_ENV=INGEST \
#       --build-arg SERVICE_PORT=8001 -t switchboard-ingest .
FROM python:3.11-slim

ARG SERVICE
ARG SERVICE_ENV
ARG SERVICE_PORT
RUN test -n "${SERVICE}" && test -n "${SERVICE_ENV}" && test -n "${SERVICE_PORT}" \
    || { echo "build with --build-arg SERVICE, SERVICE_ENV and SERVICE_PORT" >&2; exit 1; }

COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /uvx /usr/local/bin/

ENV UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /app

# Dependencies first, so they stay cached until the lock or a pyproject changes.
# uv needs every workspace member's pyproject.toml to read the workspace lock.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY services/ingest/pyproject.toml services/ingest/pyproject.toml
COPY services/classifier/pyproject.toml services/classifier/pyproject.toml
COPY services/router/pyproject.toml services/router/pyproject.toml
COPY services/responder/pyproject.toml services/responder/pyproject.toml
COPY services/notifier/pyproject.toml services/notifier/pyproject.toml
COPY standins/pyproject.toml standins/pyproject.toml
COPY cli/pyproject.toml cli/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package switchboard-${SERVICE} --no-install-workspace

# Then the code: the common package and this service, installed into the venv.
COPY shared/ shared/
COPY services/${SERVICE}/ services/${SERVICE}/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package switchboard-${SERVICE}

RUN groupadd --system --gid 10001 switchboard \
    && useradd --system --uid 10001 --gid switchboard --create-home --home-dir /home/switchboard switchboard

# SERVICE and SERVICE_PORT stay in the image for the health check and the command.
ENV PATH="/app/.venv/bin:$PATH" \
    SERVICE=${SERVICE} \
    SERVICE_PORT=${SERVICE_PORT} \
    SWITCHBOARD_${SERVICE_ENV}_HOST=0.0.0.0 \
    SWITCHBOARD_${SERVICE_ENV}_PORT=${SERVICE_PORT}

# Run from the user's home: the code in /app stays read-only to the service,
# and anything a service writes relative to its working directory lands here.
USER switchboard
WORKDIR /home/switchboard

EXPOSE ${SERVICE_PORT}

HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${SERVICE_PORT}/healthz', timeout=4)"

# exec: the service, not a shell, is process 1 and receives the stop signal.
CMD exec python -m switchboard_${SERVICE}
