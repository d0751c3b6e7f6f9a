"""`python -m ruta ...` is the `ruta` command."""

from ruta.cli_errors import main

main()
