"""Show what a config's pipeline and data preprocessor make of images.

For every image: each stage of the config's train pipeline, the keypoints,
the keypoint map F, the weights W (with a colour bar) and the mask, computed
as training computes them (the device path's ``KAMIMDataPreprocessor`` or
the pipeline's ``KeypointDensity``). Writes one PNG per image and
``keypoint_weights.json`` with the figures' numbers to ``--out-dir``. With a
SimMIM (or any) config it shows the pipeline and the mask: a
``browse_dataset`` for our configs.

Example:
    python tools/analysis_tools/visualize_keypoint_weights.py \
        configs/kamim_vit-base_8xb256_in1k.py --images data/my_images \
        --out-dir work_dirs/weights
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import Config, DictAction

import mmkamim  # noqa: F401  (registers mmkamim's components)
from mmkamim.analysis import keypoint_view, trace_pipeline
from mmkamim.utils import image_files
from mmkamim.visualization import draw_keypoint_weights, use_file_backend


def main() -> None:
    use_file_backend()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='training config')
    parser.add_argument('--images', nargs='+', required=True,
                        help='image files and/or folders')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the pipeline randomness')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    files = image_files(args.images)
    os.makedirs(args.out_dir, exist_ok=True)
    summary = []
    for i, path in enumerate(files):
        trace = trace_pipeline(cfg, path, args.seed, i)
        view = keypoint_view(cfg, trace)
        name = osp.splitext(osp.basename(path))[0]
        out_file = osp.join(args.out_dir, f'{i:04d}_{name}.png')
        draw_keypoint_weights(trace['stages'], view, path, out_file)
        weight = view['kp_weight']
        summary.append(dict(
            file=path, figure=out_file, source=view['source'],
            stages=[stage for stage, _ in trace['stages']],
            keypoints=None if view['points'] is None else len(
                view['points']),
            marked_fraction=None if view['keypoint_map'] is None else float(
                view['keypoint_map'].mean()),
            weight_min=None if weight is None else float(weight.min()),
            weight_max=None if weight is None else float(weight.max()),
            weight_mean=None if weight is None else float(weight.mean()),
            masked_fraction=None if view['mask'] is None else float(
                view['mask'].mean())))
        print(f'[{i + 1}/{len(files)}] {path} -> {out_file}', flush=True)
    with open(osp.join(args.out_dir, 'keypoint_weights.json'), 'w') as f:
        json.dump(dict(config=args.config, seed=args.seed, images=summary),
                  f, indent=2)


if __name__ == '__main__':
    main()
