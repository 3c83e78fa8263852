"""Ship configs/ and tools/ inside the wheel, as MMPretrain does.

Everything else is in pyproject.toml. Building a wheel copies the
repository's configs/ and tools/ into mmkamim/.mim/, so that an installed
mmkamim finds them (``mmkamim.utils.project_dir``); a checkout or an
editable install uses the repository's folders themselves.
"""
import os.path as osp
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))


class BuildPyWithMim(build_py):
    """``build_py`` that also copies configs/ and tools/ into the package."""

    def run(self) -> None:
        super().run()
        for name in ('configs', 'tools'):
            target = osp.join(self.build_lib, 'mmkamim', '.mim', name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(
                osp.join(HERE, name), target,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


setup(cmdclass={'build_py': BuildPyWithMim})
