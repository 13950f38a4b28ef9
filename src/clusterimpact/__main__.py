"""``python -m clusterimpact`` runs the command line."""

from clusterimpact.report.cli import entry

if __name__ == "__main__":
    entry()
