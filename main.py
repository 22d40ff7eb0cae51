"""Entry point: ``python main.py [URL] [--sandbox] [--profile NAME]`` and ``python main.py show …``."""

import sys

from ui.app import main

if __name__ == "__main__":
    sys.exit(main())
