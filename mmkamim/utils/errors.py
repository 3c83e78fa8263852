"""The error a user can fix: a setting, file or input the run cannot use."""
import sys
from contextlib import contextmanager
from typing import Iterator


class UsageError(ValueError):
    """A setting, file or input the run cannot use.

    Its message names what is wrong and how to fix it; ``tools/train.py``
    and ``tools/test.py`` log it and exit 1 without a traceback.
    """


@contextmanager
def refused_without_traceback() -> Iterator[None]:
    """Turn a :class:`UsageError` into one line on stderr and exit status 1
    (a traceback would bury the message)."""
    try:
        yield
    except UsageError as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)
