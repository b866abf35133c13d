"""``python -m retroprop`` runs the command line."""

from retroprop.cli import main

if __name__ == "__main__":
    main()
