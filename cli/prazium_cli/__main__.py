"""`python -m prazium_cli`: the same as the `prazium` console script."""

from prazium_cli.main import main

main()
