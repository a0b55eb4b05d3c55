"""``python -m vhub.cli``: the same as the ``vhub`` console script."""

from vhub.cli import main

main()
