import sys

from multitrack.cli import main

sys.exit(main())
