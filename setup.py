"""Ship configs/, tools/ and model-index.yml inside the wheel, as
MMPretrain does.

Everything else is in pyproject.toml. Building a wheel copies them into
mmkamim/.mim/, where mim and ``mmkamim.utils.project_dir`` find them; a
checkout or an editable install uses the repository's own.
"""
import os.path as osp
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))


class BuildPyWithMim(build_py):
    """``build_py`` that also copies configs/, tools/ and model-index.yml
    into the package."""

    def run(self) -> None:
        super().run()
        mim = osp.join(self.build_lib, 'mmkamim', '.mim')
        for name in ('configs', 'tools'):
            target = osp.join(mim, name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(
                osp.join(HERE, name), target,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        shutil.copy(osp.join(HERE, 'model-index.yml'), mim)


setup(cmdclass={'build_py': BuildPyWithMim})
