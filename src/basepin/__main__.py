from basepin.cli import run

run()
