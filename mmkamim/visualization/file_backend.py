"""The matplotlib backend of every tool that writes figures."""
import matplotlib


def use_file_backend() -> None:
    """Draw into files with matplotlib's Agg backend, which needs no
    display (tools run on headless cluster nodes and over ssh). Every tool
    that writes figures calls it first thing in its ``main``."""
    matplotlib.use('Agg')
