"""Every image under a folder, for pre-training (labels ignored)."""
import os.path as osp
from typing import List

from mmengine.fileio import list_from_file
from mmengine.logging import print_log
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS


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

    Args:
        data_root (str): The folder.
        ann_file (str): Image list, relative to ``data_root``; used if it
            exists. Lines are ``path`` or ``path label`` (the label is
            ignored). Defaults to ``'meta/train.txt'``.
        data_prefix (str): Subfolder of the images (and of the list's
            paths), used if it exists. Defaults to ``'train'``.
        **kwargs: Other ``CustomDataset`` arguments (``pipeline``,
            ``extensions``, ...), except ``with_label``.
    """

    def __init__(self,
                 data_root: str,
                 ann_file: str = 'meta/train.txt',
                 data_prefix: str = 'train',
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
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Image paths from the list's first column, or from a scan."""
        if self.ann_file:
            paths = [line.split()[0] for line in list_from_file(self.ann_file)
                     if line.strip()]
            data_list = [{'img_path': osp.join(self.img_prefix, path)}
                         for path in paths]
            source = f'listed in {self.ann_file}'
        else:
            data_list = super().load_data_list()
            source = f'found under {self.img_prefix}'
        print_log(f'ImageFolder: {len(data_list)} images {source}',
                  logger='current')
        return data_list
