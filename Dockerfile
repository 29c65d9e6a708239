# The bot as one replica: `docker build -t mirror-mirror .`; several behind a proxy: compose.yaml.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# OpenCV's headless wheel still wants GLib at run time
RUN apt-get update && apt-get install -y --no-install-recommends libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 mirror
WORKDIR /app

# dependencies first, so a code change does not reinstall them: the exact versions and hashes of
# requirements.lock (the README says how to refresh it), so two builds install the same bytes
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

COPY classifier classifier
COPY training training
COPY bot bot
# the shipped models are baked in; mount another folder over /app/models (its DEFAULT is served)
COPY models models

USER mirror
# the packages run from /app as they are (nothing to build or install for them)
ENV PYTHONPATH=/app STATE_DIR=/home/mirror/state PORT=8080 LISTEN=0.0.0.0
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
# webhook mode needs WEBHOOK_URL (the proxy's public https address); without it the bot long-polls
CMD ["python", "-m", "bot"]
