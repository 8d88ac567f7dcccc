import sys

from .cli.quick import main

if __name__ == "__main__":  # not again in a process multiprocessing starts
    sys.exit(main())
