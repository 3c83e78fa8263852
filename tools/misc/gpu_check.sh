#!/usr/bin/env bash
# The checks that need a CUDA GPU, on a machine where the project is
# installed (python -m pip install -e ".[lite,tests]"); nothing is
# downloaded. Run from the repository root:
#
#   bash tools/misc/gpu_check.sh [WORK_DIR]     (default work_dirs/gpu_check)
#
# 1. The GPU and the library versions.
# 2. fp16 mixed precision at T = 0.1 (keypoint weights up to e^10):
#    tools/train.py --amp --amp-dtype float16 on the embedded photos, about
#    140 iterations of batch 64. It holds when no logged loss is inf or NaN
#    and the loss scaler's last line gives fewer than 1 % skipped after
#    iteration 20.
# 3. Preemption: SIGTERM to tools/train.py --amp (bf16) after its 4th
#    iteration; it must exit 143 with a checkpoint, and --resume must finish
#    with exit 0.
# 4. The training-step benchmark (ViT-B, batch 256, bf16): SimMIM and
#    KAMIM eager and compiled, achieved FLOP/s against the card's measured
#    matrix-product rate, compile times with empty caches.
# 5. Throughput: tools/train.py --amp (bf16) on the embedded photos, about
#    210 iterations of batch 64; images per second and the share of time
#    spent waiting for data after the first 20 iterations.
# 6. With GPU_CHECK_TESTS=1, the test suite with CUDA visible (the device
#    path's compiled-kernel parity tests run only there).
set -uo pipefail
cd "$(dirname "$0")/../.."
work=${1:-work_dirs/gpu_check}
python=${PYTHON:-python}
config=configs/kamim_vit-base_8xb256_in1k.py
mkdir -p "$work"

echo "== environment"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$python" - <<'PY'
import cv2, mmcv, mmengine, mmpretrain, torch, torchvision
print('torch', torch.__version__, '| cuda', torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-')
print('torchvision', torchvision.__version__, '| opencv', cv2.__version__,
      '| mmengine', mmengine.__version__, '| mmcv', mmcv.__version__,
      '| mmpretrain', mmpretrain.__version__)
PY
"$python" -c "from mmkamim.datasets.sample_photos import make_photo_dataset as m; m('$work/photos')"
data="train_dataloader.dataset.data_root=$work/photos/train"

echo "== fp16 at T = 0.1"
"$python" tools/train.py "$config" --amp --amp-dtype float16 \
    --work-dir "$work/fp16" --cfg-options "$data" \
    model.data_preprocessor.temperature=0.1 train_dataloader.batch_size=64 \
    train_cfg.max_epochs=20 default_hooks.logger.interval=10 \
    custom_hooks.2.warmup_iters=20 2>&1 |
    grep -E "amp_skipped|loss scaler|Error|nan|inf" | tail -n 6

echo "== SIGTERM and --resume"
rm -rf "$work/preempt"
preempt=("$python" tools/train.py "$config" --amp --work-dir "$work/preempt"
         --cfg-options "$data" train_dataloader.batch_size=16
         train_cfg.max_epochs=2 default_hooks.logger.interval=1)
"${preempt[@]}" > "$work/preempt.log" 2>&1 &
pid=$!
until grep -q "Epoch(train) \[1\]\[4/" "$work/preempt.log" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
done
kill -TERM "$pid"
wait "$pid"
echo "exit $? after SIGTERM (143 expected)"
grep -E "received|stopped by" "$work/preempt.log"
"${preempt[@]}" --resume > "$work/resume.log" 2>&1
echo "exit $? after --resume (0 expected)"
grep -E "resuming epoch|resumed epoch" "$work/resume.log"

echo "== training step against the card's limit"
"$python" tools/analysis_tools/benchmark_pretraining.py --skip-pipeline \
    --compile --compile-time --out "$work/benchmark.json" 2>&1 |
    grep -vE "Warning|warn"

echo "== throughput of --amp training"
rm -rf "$work/throughput"
"$python" tools/train.py "$config" --amp --work-dir "$work/throughput" \
    --cfg-options "$data" train_dataloader.batch_size=64 \
    train_cfg.max_epochs=30 default_hooks.logger.interval=10 \
    log_processor.window_size=10 > "$work/throughput.log" 2>&1
echo "exit $?"
"$python" tools/analysis_tools/training_throughput.py "$work/throughput" \
    --skip 20

if [ "${GPU_CHECK_TESTS:-0}" = 1 ]; then
    echo "== tests with CUDA"
    "$python" -m pytest -q -p no:cacheprovider 2>&1 | tail -n 15
fi
