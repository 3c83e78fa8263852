"""Write the embedded photo dataset (no download) used by the demo configs.

Each scikit-image photo is a class; training and validation crops come from
disjoint parts of it. See ``mmkamim.datasets.sample_photos``.

Example:
    python tools/dataset_converters/make_photo_dataset.py data/photos
"""
import argparse

from mmkamim.datasets.sample_photos import make_photo_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='output folder (CustomDataset layout)')
    parser.add_argument('--train-per-class', type=int, default=24)
    parser.add_argument('--val-per-class', type=int, default=8)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    written = make_photo_dataset(
        args.root,
        train_per_class=args.train_per_class,
        val_per_class=args.val_per_class,
        size=args.size,
        seed=args.seed)
    print(f'wrote {written["train"]} training and {written["val"]} '
          f'validation images to {args.root}')


if __name__ == '__main__':
    main()
