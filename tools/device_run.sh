#!/usr/bin/env bash
# The GPU fine-tune on any CUDA machine (docs/gpu.md): fine-tunes EfficientNet-Lite2 end to end with
# augmentation on JAX (bfloat16 on the GPU), from the ImageNet weights inside the shipped model, on DATA
# (default: the photos python -m tools.devicepack packs into .device/, whose wheels it installs when Keras
# is missing), and leaves under $OUT the log and the rebuild's run folder as a tar in 15 MiB parts: the
# rebuild stops after the fine-tune and goes on at home with --resume (the last line says how).
# Rehearse on a CPU: OUT=/tmp/out PYTHON=.venv/bin/python EPOCHS=1 LIMIT=40 bash tools/device_run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?OUT: the folder the artifact goes to}"
started=$(date +%s)
py=${PYTHON:-python3}
site=/tmp/site
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
if ! "$py" -c "import keras" 2>/dev/null; then # the device: Keras comes from the carried wheels
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .device/wheels/*.whl
fi
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
version=${VERSION:-lite2-gpu-$(date +%Y%m%d)}
args=(--data "${DATA:-.device/photos}" --backbone efficientnet_lite2 --weights "models/$(cat models/DEFAULT)"
  --mode end-to-end --head-epochs "${EPOCHS:-3}" --fine-tune-epochs "${FINE_TUNE_EPOCHS:-${EPOCHS:-8}}"
  --batch-size "${BATCH:-64}" --run-dir /tmp/runs --version "$version" --stop-after pets --no-progress)
if [ -n "${LIMIT:-}" ]; then args+=(--limit "$LIMIT"); fi
"$py" -c 'import jax, keras; print("jax", jax.__version__, jax.devices(), "keras", keras.__version__)' 2>&1 | tee "$OUT/train.log"
"$py" -m training "${args[@]}" 2>&1 | tee -a "$OUT/train.log"
tar -C /tmp/runs --exclude '*.weights.h5' -cf - "$version" | split -b 15M - "$OUT/$version.tar.part-"
echo "device run: $(($(date +%s) - started)) s; at home: cat $version.tar.part-* | tar -x -C runs/ &&" \
  "python -m training --resume runs/$version --data ../shared/data/dogs-vs-cats --faces ../shared/data/faces" \
  "--lookalike ../shared/data/lookalike --pets-real ../shared/data/pets-real --out models --promote" | tee -a "$OUT/train.log"
