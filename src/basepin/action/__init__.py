"""The GitHub Action's glue (action.yml runs `python -m basepin.action`).

Inputs arrive as `INPUT_*` variables; basepin runs once to JSON; from that report come the
annotations, the job summary, the step outputs, SARIF, and pull-request suggestions.
"""
