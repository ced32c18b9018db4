"""``python -m hub`` runs the command line."""

from hub.core.cli import main

main()
