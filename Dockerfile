# syntax=docker/dockerfile:1
# Stock Vision API image (also serves the chat UI at /chat and the `stockvision` CLI).
#   docker build -t stockvision:latest .
#   docker run --rm -p 8000:8000 stockvision:latest            # stockvision serve --host 0.0.0.0
#   docker run --rm stockvision:latest --help                  # any other CLI command
# Build arguments: SV_EXTRAS (package extras, default api,chat,ml,mlflow,postgres,distributed), TORCH_VERSION.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- build: a self-contained venv
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, from the CPU wheel index: the default PyPI wheel drags in gigabytes of CUDA
# libraries that a CPU-only API never uses. Its own layer, so code changes reuse it.
ARG TORCH_VERSION=2.13.0
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}"
WORKDIR /src
# .dockerignore keeps .venv, .git, data and caches out of the context.
COPY . .
# mlflow and postgres too: the API loads models from the MLflow registry and reads PostgreSQL;
# distributed: the same image runs the Dask scheduler and workers (deploy/k8s/components/dask).
ARG SV_EXTRAS=api,chat,ml,mlflow,postgres,distributed
RUN pip install ".[${SV_EXTRAS}]" \
    && stockvision --help > /dev/null

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="stockvision" \
      org.opencontainers.image.description="Stock Vision API, chat UI and CLI"
# libgomp1: OpenMP runtime needed by LightGBM's wheel (torch bundles its own).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 stockvision \
    && useradd --system --uid 10001 --gid stockvision --create-home \
       --home-dir /home/stockvision --shell /usr/sbin/nologin stockvision \
    && mkdir -p /data \
    && chown stockvision:stockvision /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SV_DATA_DIR=/data \
    SV_API_PORT=8000
USER stockvision
WORKDIR /home/stockvision
VOLUME ["/data"]
EXPOSE 8000
# python:slim has no curl; urllib is enough. Non-2xx answers raise, so the check fails.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SV_API_PORT', '8000'), timeout=4)" || exit 1
ENTRYPOINT ["stockvision"]
CMD ["serve", "--host", "0.0.0.0"]
