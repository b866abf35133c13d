"""``python -m retroprop`` runs the command line."""

from retroprop.cli import main

main()
