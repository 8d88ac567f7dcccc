import sys

from .cli.quick import main

sys.exit(main())
