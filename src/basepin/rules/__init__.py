"""Judge: turn image uses (and, online, the registry's answers) into findings.

The stage's face, what the command line and the tests call; each rule lives in the module of
its kind (`offline`, `online`, `lifecycle`, `vulnerable`), on the floor of `candidates`, and
`judging` runs them. `lifecycle` and `vulnerable` are not imported here: a run without their
rules does not load them.
"""

from basepin.rules.candidates import Candidate
from basepin.rules.fixes import plan_fixes
from basepin.rules.judging import Verdict, incomplete_of, judge, judge_offline, settle
from basepin.rules.offline import is_allowed, offline_candidates
from basepin.rules.online import asks_registry

__all__ = [
    "Candidate",
    "Verdict",
    "asks_registry",
    "incomplete_of",
    "is_allowed",
    "judge",
    "judge_offline",
    "offline_candidates",
    "plan_fixes",
    "settle",
]
