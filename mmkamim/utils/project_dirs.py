"""Where the configs and tools that ship with mmkamim are."""
import os.path as osp

_PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))


def project_dir(name: str) -> str:
    """The ``configs`` or ``tools`` folder of mmkamim.

    A wheel carries them inside the package, as MMPretrain's does
    (``mmkamim/.mim/{configs,tools}``, copied there when the wheel is
    built). A checkout, or an editable install of one, where no build step
    runs, has them beside the package.

    Args:
        name (str): ``'configs'`` or ``'tools'``.

    Returns:
        str: The folder's absolute path.
    """
    for candidate in (osp.join(_PACKAGE, '.mim', name),
                      osp.join(osp.dirname(_PACKAGE), name)):
        if osp.isdir(candidate):
            return candidate
    raise FileNotFoundError(
        f'mmkamim has no {name}/ folder: looked in {_PACKAGE}/.mim/ (a '
        f'wheel) and beside {_PACKAGE} (a checkout)')
