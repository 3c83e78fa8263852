"""Places365-Standard from its official file lists."""
from typing import List

from mmengine.fileio import list_from_file
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS

# The official lists (filelist_places365-standard.tar) and the folders the
# 256 x 256 images (data_256.tar, val_256.tar) extract to.
_SPLITS = {
    'train': ('places365_train_standard.txt', 'data_256'),
    'val': ('places365_val.txt', 'val_256'),
}


@DATASETS.register_module()
class Places365(CustomDataset):
    """Places365-Standard (365 scene categories) as its authors ship it.

    The training list names images by category path with a leading slash
    (``/a/airfield/00000001.jpg 0``), relative to ``data_256/``; the
    validation list names flat files (``Places365_val_00000001.jpg 165``) in
    ``val_256/``. Both are read as they are written.

    Args:
        data_root (str): Folder with the two lists and the image folders.
        split (str): ``'train'`` or ``'val'``.
        **kwargs: Other ``CustomDataset`` arguments (``pipeline``, ...).
    """

    def __init__(self, data_root: str, split: str = 'train',
                 **kwargs) -> None:
        if split not in _SPLITS:
            raise ValueError(
                f"split must be 'train' or 'val', got {split!r}")
        ann_file, prefix = _SPLITS[split]
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=prefix,
            with_label=True,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """``(path, label)`` lines; the leading slash of train paths is
        relative to the image folder, not the file system's root."""
        data_list = []
        for line in list_from_file(self.ann_file):
            if not line.strip():
                continue
            path, label = line.strip().rsplit(' ', 1)
            data_list.append({
                'img_path': self.img_prefix + '/' + path.lstrip('/'),
                'gt_label': int(label),
            })
        return data_list
