# One image for the five services, the dashboard and the `yieldloop` command; the command picks
# what runs:
#   docker build -t yieldloop:0.1.0 .
#   docker run yieldloop:0.1.0 serve monitor        (default: serve inference)
#   docker run yieldloop:0.1.0 dashboard
# Pins: the Python base by its patch release; every package at its version in constraints.txt
# (`make lock`), which is what CI tests. torch and torchvision come as CPU wheels from PyTorch's
# CPU index at the versions constraints.txt pins: the CUDA builds PyPI serves on Linux add GBs
# that the services never use.
ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
COPY constraints.txt pyproject.toml README.md ./
# Dependencies first, in a layer of their own that source changes do not rebuild.
RUN torch="$(sed -n 's/^torch==//p' constraints.txt)" \
    && vision="$(sed -n 's/^torchvision==//p' constraints.txt)" \
    && tools="$(sed -n 's/^setuptools==//p' constraints.txt)" \
    && pip install --no-deps --index-url https://download.pytorch.org/whl/cpu \
        "torch==${torch}+cpu" "torchvision==${vision}+cpu" \
    && pip install "setuptools==${tools}" \
    && pip install --no-build-isolation -c constraints.txt -e .
COPY schemas ./schemas
COPY services ./services
COPY yieldloop ./yieldloop
COPY config ./config
COPY docs ./docs
RUN pip install --no-deps --no-build-isolation -e . \
    && python -m compileall -q schemas services yieldloop

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="yieldloop" \
      org.opencontainers.image.description="Keeps an image-inspection model healthy: inference, monitor, curator, trainer, gatekeeper"
# Every service, and the dashboard, listens on 8000 in its own container; Kafka, Redis and MLflow are named by
# YIELDLOOP_KAFKA__BOOTSTRAP_SERVERS, YIELDLOOP_REDIS__URL and YIELDLOOP_MLFLOW__TRACKING_URI.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false \
    YIELDLOOP_STORE__ROOT=/data/store \
    YIELDLOOP_INFERENCE__HOST=0.0.0.0 \
    YIELDLOOP_INFERENCE__PORT=8000 \
    YIELDLOOP_MONITOR__HOST=0.0.0.0 \
    YIELDLOOP_MONITOR__PORT=8000 \
    YIELDLOOP_CURATOR__HOST=0.0.0.0 \
    YIELDLOOP_CURATOR__PORT=8000 \
    YIELDLOOP_TRAINER__HOST=0.0.0.0 \
    YIELDLOOP_TRAINER__PORT=8000 \
    YIELDLOOP_GATEKEEPER__HOST=0.0.0.0 \
    YIELDLOOP_GATEKEEPER__PORT=8000 \
    YIELDLOOP_DASHBOARD__HOST=0.0.0.0 \
    YIELDLOOP_DASHBOARD__PORT=8000
# /app/runs: where `yieldloop audit` and `replay` write their pages when run in a container.
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/yieldloop yieldloop \
    && mkdir -p /data/store /data/mlflow /app/runs \
    && chown -R yieldloop:yieldloop /data /app/runs
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
ENTRYPOINT ["yieldloop"]
CMD ["serve", "inference"]
