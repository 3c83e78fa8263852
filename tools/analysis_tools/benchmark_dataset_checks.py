"""Cost of ImageFolder's start-up check that every listed file exists.

Builds a synthetic ImageNet-like tree (folders of empty files) and its list,
then times the check as ``ImageFolder`` does it (one listing per folder)
against asking for every file (``os.path.exists``), and scales to
ImageNet's 1,281,167 training images in 1000 folders. Prints a table.

Example:
    python tools/analysis_tools/benchmark_dataset_checks.py --files 100000
"""
import argparse
import os
import os.path as osp
import statistics
import tempfile
import time

from mmkamim.datasets.image_folder import missing_files

IMAGENET_TRAIN = 1_281_167


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--files', type=int, default=100_000)
    parser.add_argument('--folders', type=int, default=100)
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    per_folder = args.files // args.folders
    with tempfile.TemporaryDirectory() as root:
        paths = []
        for f in range(args.folders):
            folder = f'n{f:08d}'
            os.mkdir(osp.join(root, folder))
            for i in range(per_folder):
                name = f'{folder}_{i}.JPEG'
                open(osp.join(root, folder, name), 'w').close()
                paths.append(f'{folder}/{name}')
        listing, asking = [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            assert missing_files(root, paths) == []
            listing.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert all(osp.exists(osp.join(root, p)) for p in paths)
            asking.append(time.perf_counter() - start)
    scale = IMAGENET_TRAIN / len(paths)
    rows = [('listing each folder once (ImageFolder)',
             statistics.median(listing)),
            ('os.path.exists on every file', statistics.median(asking))]
    print(f'{len(paths)} listed files in {args.folders} folders, median of '
          f'{args.rounds} rounds (files cached by the OS):')
    print('| check | seconds | ImageNet train (x{:.1f}), seconds |'.format(
        scale))
    print('|---|---|---|')
    for name, seconds in rows:
        print(f'| {name} | {seconds:.3f} | {seconds * scale:.1f} |')


if __name__ == '__main__':
    main()
