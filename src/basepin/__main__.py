from basepin.cli import run

raise SystemExit(run())
