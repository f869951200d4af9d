# One image for every smartfactory service (ingest, simulate, dashboard); the command picks the part.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY simulators ./simulators
COPY dashboard ./dashboard
RUN pip install --no-cache-dir -e . && useradd --create-home smartfactory && mkdir -p /data && chown smartfactory /data
USER smartfactory
ENV SMARTFACTORY_DATA_DIR=/data
ENTRYPOINT ["smartfactory"]
