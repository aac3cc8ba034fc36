# baton: the API, projections, Git watcher and appliers in one image.
# `docker compose up --build` (make compose-up) runs it next to Postgres, Jaeger and k3s.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine engine
COPY projections projections
COPY api api
COPY kubesim kubesim
COPY baton baton
COPY environments environments
# editable; the SQL migrations travel inside the engine package
RUN pip install --no-cache-dir -e .

ENV BATON_HOME=/var/lib/baton \
    BATON_ENVIRONMENTS=/app/environments \
    BATON_API_HOST=0.0.0.0 \
    BATON_API_PORT=8080
EXPOSE 8080
# exec: baton, not the shell, is the process that receives SIGTERM
CMD ["sh", "-c", "baton migrate && exec baton serve --host 0.0.0.0 --port 8080"]
