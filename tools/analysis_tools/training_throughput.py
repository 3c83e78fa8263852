"""Images per second and the share of time spent waiting for data, from a
finished training run's log.

Log every N iterations with a window of N, then skip the warm-up:
    python tools/train.py CONFIG --amp --work-dir work_dirs/run \
        --cfg-options default_hooks.logger.interval=10 \
        log_processor.window_size=10
    python tools/analysis_tools/training_throughput.py work_dirs/run \
        --skip 20 --processes 8
"""
import argparse

from mmkamim.analysis.throughput import work_dir_throughput
from mmkamim.utils import refused_without_traceback


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir', help='the run\'s work dir')
    parser.add_argument('--skip', type=int, default=20,
                        help='iterations of warm-up left out (default 20)')
    parser.add_argument('--processes', type=int, default=1,
                        help='training processes (GPUs) of the run')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='per-process batch (default: from the config '
                        'the run dumped in its work dir)')
    args = parser.parse_args()
    with refused_without_traceback():
        found = work_dir_throughput(args.work_dir, args.skip,
                                    args.processes, args.batch_size)
    print(f'iterations {found["first_iter"]}-{found["last_iter"]} '
          f'({found["records"]} logged lines): '
          f'{found["seconds_per_iter"]:.4f} s/iter, '
          f'{found["images_per_s"]:.0f} images/s, waiting for data '
          f'{100 * found["data_wait_share"]:.1f} % of the time')


if __name__ == '__main__':
    main()
