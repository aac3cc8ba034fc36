# baton: the API, projections, Git watcher and appliers in one image.
# `docker compose up --build` (make compose-up) runs it next to Postgres, Jaeger and k3s;
# deploy/kubernetes runs it on a cluster.

# --- builder: the project and its dependencies, installed into a virtualenv ---------------
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/baton
WORKDIR /src
# what goes in is what .dockerignore lets through: the packages, pyproject.toml, README.md
COPY . .
# a regular install (not editable): the image needs no source tree
RUN /opt/baton/bin/pip install .

# --- the image: Python, git (GitPython runs it) and the virtualenv, as a non-root user ----
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 baton \
    && useradd --system --uid 10001 --gid baton --home-dir /var/lib/baton --create-home baton

COPY --from=builder /opt/baton /opt/baton
COPY environments /etc/baton/environments

ENV PATH=/opt/baton/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BATON_HOME=/var/lib/baton \
    BATON_ENVIRONMENTS=/etc/baton/environments \
    BATON_API_HOST=0.0.0.0 \
    BATON_API_PORT=8080
USER 10001:10001
WORKDIR /var/lib/baton
EXPOSE 8080
# exec: baton, not the shell, is the process that receives SIGTERM
CMD ["sh", "-c", "baton migrate && exec baton serve --host 0.0.0.0 --port 8080"]
