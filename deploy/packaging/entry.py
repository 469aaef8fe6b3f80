"""The frozen collector's entry point (PyInstaller): ``collector.standalone.main``."""

import sys

from collector.standalone import main

if __name__ == "__main__":
    sys.exit(main())
