"""orderbot's command line: ``python bot.py serve|chat|sessions|…`` (``--help`` lists them).

A thin wrapper: the commands live in :mod:`routes.cli`, which the ``orderbot``
console script (``pip install``) runs as well. Nothing imports this file.
"""

import sys

from routes.cli import main

if __name__ == "__main__":
    sys.exit(main())
