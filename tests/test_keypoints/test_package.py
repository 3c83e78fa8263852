"""mmkamim.keypoints stands on its own: both weight paths import it, and it
imports neither of them (read from the source: ``import mmkamim`` imports
every subpackage, so sys.modules cannot tell)."""
import ast
import glob
import os.path as osp

import pytest

import mmkamim.keypoints
from mmkamim.keypoints import KeypointSettings

PACKAGE = osp.dirname(mmkamim.keypoints.__file__)


def imported_modules(path: str):
    """Absolute names of the modules a file imports."""
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve from mmkamim.keypoints
                parts = ['mmkamim', 'keypoints'][:3 - node.level]
                yield '.'.join(parts + ([node.module] if node.module else []))
            else:
                yield node.module


def test_imports_neither_models_nor_datasets():
    files = glob.glob(osp.join(PACKAGE, '*.py'))
    assert len(files) >= 4
    for path in files:
        for module in imported_modules(path):
            assert not module.startswith(('mmkamim.models',
                                          'mmkamim.datasets')), (path, module)


def test_both_paths_take_the_settings_from_here():
    from mmkamim.datasets.transforms import KeypointDensity
    from mmkamim.models import KAMIMDataPreprocessor
    settings = dict(patch_size=16, temperature=0.5,
                    detector_kwargs=dict(threshold=20))
    density = KeypointDensity(**settings)
    preprocessor = KAMIMDataPreprocessor(**settings)
    assert density.settings == preprocessor.settings == KeypointSettings(
        **settings)


@pytest.mark.parametrize('settings, message', [
    (dict(patch_size=0), 'patch_size must be an integer >= 1, got 0'),
    (dict(temperature=0), 'temperature must be a finite number > 0, got 0'),
    (dict(detector='harris'), "detector='harris' is not supported"),
    (dict(detector_kwargs=dict(threshold=300)),
     r'FAST threshold must be an integer in \[0, 255\], got 300'),
])
def test_settings_name_what_is_wrong(settings, message):
    with pytest.raises(ValueError, match=message):
        KeypointSettings(**settings)


def test_an_unknown_setting_is_named():
    from mmkamim.datasets.transforms import KeypointDensity
    with pytest.raises(ValueError, match=r"KeypointDensity got \['temp'\], "
                       r'which are not keypoint settings'):
        KeypointDensity(temp=0.1)
