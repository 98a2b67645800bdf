import sys

from .receiver.server import main

sys.exit(main())
