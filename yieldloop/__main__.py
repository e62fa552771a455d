import sys

from yieldloop.cli import main

sys.exit(main())
