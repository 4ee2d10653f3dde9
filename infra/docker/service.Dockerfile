# One image per service, built from the repository root (the uv workspace):
#
#   docker build -f order-service/Dockerfile .
#
# The <service>/Dockerfile files (and ops/Dockerfile) are this file with the two ARG defaults
# filled in; infra/docker/sync-dockerfiles.sh rewrites them (--check verifies).
# The image runs the API by default; compose runs the worker (the consumer) and the
# topics CLI from the same image with another command.
FROM python:3.11-slim

ARG SERVICE
ARG PACKAGE
ARG UV_VERSION=0.13.9

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1

RUN test -n "$SERVICE" && test -n "$PACKAGE" \
 && pip install --no-cache-dir "uv==${UV_VERSION}" \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /home/app app

WORKDIR /app

# Third-party dependencies first (their own layer, reused until uv.lock
# changes). uv needs every workspace member's pyproject.toml to read the
# workspace; `uv sync --package` then installs only what the package needs.
COPY pyproject.toml uv.lock ./
COPY shared-events/pyproject.toml shared-events/
COPY service-kit/pyproject.toml service-kit/
COPY ops/pyproject.toml ops/
COPY order-service/pyproject.toml order-service/
COPY store-service/pyproject.toml store-service/
COPY delivery-service/pyproject.toml delivery-service/
COPY mypage-service/pyproject.toml mypage-service/
COPY identity-service/pyproject.toml identity-service/
COPY web/pyproject.toml web/
RUN uv sync --frozen --no-dev --package "$SERVICE" --no-install-workspace

# The contract and the chassis, then the package itself (the ops image also
# needs mypage-service, whose read model it rebuilds).
COPY shared-events/ shared-events/
COPY service-kit/ service-kit/
COPY mypage-service/ mypage-service/
COPY ${SERVICE}/ ${SERVICE}/
RUN uv sync --frozen --no-dev --package "$SERVICE" \
 && /app/.venv/bin/python -c "import ${PACKAGE}, shared_events, service_kit"

ENV PATH=/app/.venv/bin:$PATH \
    APP_PACKAGE=${PACKAGE} \
    HTTP_HOST=0.0.0.0

# A writable working directory for the non-root user (without DATABASE_URL, a
# service keeps its SQLite file under ./.local/data).
WORKDIR /home/app
USER app

CMD ["sh", "-c", "exec python -m \"$APP_PACKAGE.entrypoints.api\""]
