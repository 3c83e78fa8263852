"""Every image under a folder, for pre-training (labels ignored)."""
import logging
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

from mmengine.fileio import list_from_file
from mmengine.logging import print_log
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS

from mmkamim.utils.errors import UsageError

# What OpenCV (mmcv's default image backend) decodes, compared without case.
# MMPretrain's CustomDataset leaves out .tiff and .webp.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.jpe', '.png', '.bmp', '.dib', '.ppm',
                    '.pgm', '.pbm', '.pnm', '.tif', '.tiff', '.webp')


def scan_images(root: str, extensions: Sequence[str]
                ) -> Tuple[List[str], Dict[str, List[str]]]:
    """The image files under ``root`` (relative paths, sorted), and what
    else it holds, by kind: other extensions, broken links, folders named
    like images (searched all the same)."""
    images, left_out = [], defaultdict(list)
    extensions = tuple(e.lower() for e in extensions)
    for folder, subfolders, files in os.walk(root, followlinks=True):
        for name in subfolders:
            if name.lower().endswith(extensions):
                left_out['folders named like images'].append(
                    osp.relpath(osp.join(folder, name), root))
        for name in files:
            path = osp.join(folder, name)
            relative = osp.relpath(path, root)
            if not name.lower().endswith(extensions):
                left_out['files with other extensions'].append(relative)
            elif not osp.exists(path):
                left_out['broken links'].append(relative)
            else:
                images.append(relative)
    return sorted(images), {k: sorted(v) for k, v in left_out.items()}


def missing_files(root: str, paths: Sequence[str]) -> List[str]:
    """The ``paths`` (relative to ``root``) that do not exist, found by
    listing each of their folders once rather than by asking for every
    file."""
    by_folder = defaultdict(list)
    for path in paths:
        folder, name = osp.split(path)
        by_folder[folder].append((name, path))
    missing = []
    for folder, entries in by_folder.items():
        try:
            present = set(os.listdir(osp.join(root, folder)))
        except (FileNotFoundError, NotADirectoryError):
            present = set()
        missing += [path for name, path in entries if name not in present]
    return missing


@DATASETS.register_module()
class ImageFolder(CustomDataset):
    """All images of a folder, without labels, for self-supervised
    pre-training.

    Point ``data_root`` at any folder of images (nested folders are fine;
    class folders are not needed) and every image in it is used. The same
    config reads ImageNet fast: when ``ann_file`` exists under
    ``data_root`` (ImageNet's ``meta/train.txt``), its first column lists
    the images under ``data_prefix``, so 1.28 M files are not scanned; else,
    when ``data_root/data_prefix`` is a folder, that folder is scanned; else
    ``data_root`` itself. Which one was used is logged.

    Whatever else a scanned folder holds (other extensions, broken links,
    folders named like images) is counted in one log line with the first
    few names. A list naming files that do not exist stops the run at
    start-up, with their count and first names (each listed folder is read
    once: a few seconds for ImageNet, see docs/reliability.md).

    Args:
        data_root (str): The folder.
        ann_file (str): Image list, relative to ``data_root``; used if it
            exists. Lines are ``path`` or ``path label`` (the label is
            ignored). Defaults to ``'meta/train.txt'``.
        data_prefix (str): Subfolder of the images (and of the list's
            paths), used if it exists. Defaults to ``'train'``.
        extensions (Sequence[str]): File endings of images, compared without
            case. Defaults to :data:`IMAGE_EXTENSIONS` (what OpenCV reads:
            .jpg .jpeg .jpe .png .bmp .dib .ppm .pgm .pbm .pnm .tif .tiff
            .webp).
        **kwargs: Other ``CustomDataset`` arguments (``pipeline``, ...),
            except ``with_label``.
    """

    def __init__(self,
                 data_root: str,
                 ann_file: str = 'meta/train.txt',
                 data_prefix: str = 'train',
                 extensions: Sequence[str] = IMAGE_EXTENSIONS,
                 **kwargs) -> None:
        if not osp.isfile(osp.join(data_root, ann_file)):
            ann_file = ''
        if not osp.isdir(osp.join(data_root, data_prefix)):
            data_prefix = ''
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=data_prefix,
            with_label=False,
            extensions=tuple(extensions),
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Image paths from the list's first column, or from a scan."""
        folder = osp.normpath(self.img_prefix)
        if self.ann_file:
            paths = [line.split()[0] for line in list_from_file(self.ann_file)
                     if line.strip()]
            missing = missing_files(self.img_prefix, paths)
            if missing:
                raise UsageError(
                    f'{self.ann_file} names {len(missing)} files that do not '
                    f'exist under {folder}: {", ".join(missing[:5])}'
                    f'{", ..." if len(missing) > 5 else ""}. Fix the list or '
                    'the folder (data_root, data_prefix)')
            source = f'listed in {self.ann_file}'
        else:
            paths, left_out = scan_images(self.img_prefix, self.extensions)
            if not paths:
                raise UsageError(
                    f'no images under {folder} (extensions: '
                    f'{" ".join(self.extensions)})')
            if left_out:
                counts = '; '.join(
                    f'{len(names)} {kind} ({", ".join(names[:3])}'
                    f'{", ..." if len(names) > 3 else ""})'
                    for kind, names in left_out.items())
                print_log(f'ImageFolder left out of {folder}: '
                          f'{counts}', logger='current',
                          level=logging.WARNING)
            source = f'found under {folder}'
        print_log(f'ImageFolder: {len(paths)} images {source}',
                  logger='current')
        return [{'img_path': osp.join(self.img_prefix, path)}
                for path in paths]
