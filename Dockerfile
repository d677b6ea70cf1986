# One image for every Ticktide Python service (and the migrate / tls one-shots of
# compose.yaml). The same commands as the local launcher: `python -m ticktide_<service>`.

# The web service's front-end libraries, exactly as locked (services/web/package-lock.json).
FROM node:20-slim AS web-libraries
WORKDIR /web
COPY services/web/package.json services/web/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim

ARG UV_VERSION=0.9.30
# openssl: scripts/make-cert.sh, run by compose's tls service.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssl \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir "uv==${UV_VERSION}" \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin ticktide \
    && mkdir -p /app /tls && chown ticktide /tls

WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    TICKTIDE_MIGRATIONS_DIR=/app/db/migrations

# The workspace's manifests and sources, then exactly the locked runtime dependencies.
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
RUN uv sync --frozen --no-dev
COPY db/ db/
COPY scripts/ scripts/
# The web service's static folder: hashed names, gzip copies, manifest.
COPY --from=web-libraries /web/node_modules services/web/node_modules
RUN python -m ticktide_web.assets && rm -rf services/web/node_modules

USER ticktide
CMD ["python", "-m", "ticktide_gateway"]
