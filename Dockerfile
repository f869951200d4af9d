# One image for every smartfactory service (ingest, simulate, dashboard, and the CLI); the command picks the part.
#   docker build -t smartfactory .            docker run --rm smartfactory --help
# The package is installed editable from /app so the dashboard app and the simulators/ folder are found there.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install -e .
COPY simulators ./simulators
COPY dashboard ./dashboard
COPY deploy/check-secrets.sh deploy/smartfactory-entrypoint.sh ./deploy/

RUN useradd --system --create-home --uid 10001 smartfactory \
    && mkdir -p /data \
    && chown smartfactory /data
USER smartfactory
ENV SMARTFACTORY_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8501

ENTRYPOINT ["/bin/sh", "/app/deploy/smartfactory-entrypoint.sh"]
CMD ["--help"]
