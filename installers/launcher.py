"""Entry point of the frozen app: PyInstaller runs this file as ``__main__``.

It is the same program as the ``sora-desktop`` console script (``sora_desktop.cli:main``):
no arguments open the studio, ``generate``/``eval``/``info`` work as on the command line.
"""

import multiprocessing
import sys

from sora_desktop.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen Windows child process must not rerun the app
    sys.exit(main())
