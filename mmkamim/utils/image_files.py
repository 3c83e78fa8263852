"""The image files that a tool's ``--images FILE|DIR ...`` names."""
import glob
import os.path as osp
from typing import List, Sequence

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif',
                    '.tiff', '.webp')


def image_files(items: Sequence[str]) -> List[str]:
    """Image files, and the images in folders (recursively, sorted).

    Raises:
        FileNotFoundError: Naming an item that does not exist, or a folder
            without images.
    """
    files = []
    for item in items:
        if osp.isdir(item):
            found = sorted(
                path for path in glob.glob(
                    osp.join(item, '**', '*'), recursive=True)
                if path.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise FileNotFoundError(f'no images in folder {item}')
            files += found
        elif osp.isfile(item):
            files.append(item)
        else:
            raise FileNotFoundError(f'no such image or folder: {item}')
    return files
