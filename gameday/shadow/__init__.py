"""Shadow mode: a person, not the harness, handles the incident (``pytest gamedays/ -k ID --shadow``).

The fault goes in under load as in any drill, and the page must reach its receiver within its SLA as
always. Then, instead of reverting the fault, the harness hands the incident to the trainee:

- the page is announced on the terminal (alert, severity, summary, runbook) and listed on the pager, a
  small page on loopback (``Pager``) with Acknowledge and Resolve buttons; ``gameday ack`` acknowledges
  from a shell, ``gameday do -- CMD`` runs a command with the target's addresses and puts it on the
  timeline;
- the harness never touches the fault while the trainee works. It watches: the acknowledgement, what
  the trainee did that it can see (the buttons, the helper's commands, the lab supervisor's control
  calls), the fault still acting on the target or not, the service answering again;
- after the priority's acknowledgement time it says the escalation path would now page the secondary;
  at a quarter, half and three quarters of the MTTR goal it hints at the runbook's next section;
- past the safety timeout (twice the MTTR goal by default) it reverts the fault and ends the exercise as
  FAIL, saying so. Ctrl-C and SIGTERM revert as in every drill.

Once the trainee has mitigated, the drill goes on as any other: the resolved page, MTTR against its goal.
The debrief (``debrief``) sets the trainee's times beside the goals and beside the newest automated drill
of the same scenario, in the journal (``shadow``), on the terminal and in the review.
"""

from __future__ import annotations

ACK_GOALS = {"p0": 120.0, "p1": 300.0, "p2": 1800.0}
"""The alerting policy's acknowledgement times by priority (real time, seconds)."""
ESCALATION = {"p0": "the secondary on-call (then the service owner at 15 min)",
              "p1": "the secondary on-call (then the service owner at 30 min)",
              "p2": "the team's channel lead"}
HINT_AT = (0.25, 0.5, 0.75)
"""Hints come at these shares of the MTTR goal after the page."""
HINT_SECTIONS = ("Triage", "Investigation", "Mitigation")
OWNED_TARGETS = ("lab", "compose")
"""Targets the harness starts and stops itself: the only ones a trainee drills on unless told otherwise."""
