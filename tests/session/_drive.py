"""Run a session plan with no socket: scripted server replies in, the client's bytes out."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from cdomail.errors import CdoMailError
from cdomail.protocol import NEED_DATA, Reply
from cdomail.session import (
    Close,
    ConnectPlan,
    Note,
    ObservePlan,
    Open,
    Receive,
    Send,
    Step,
    UpgradeTLS,
)


@dataclass
class PlanRun:
    """What a plan did: every step, and every byte it would have written."""

    steps: list[Step] = field(default_factory=list)
    sent: bytearray = field(default_factory=bytearray)
    error: CdoMailError | None = None

    def kinds(self) -> list[str]:
        return [type(step).__name__ for step in self.steps]


def run_plan(plan: ConnectPlan | ObservePlan, server: list[bytes | CdoMailError]) -> PlanRun:
    """Perform ``plan``; each Receive takes the next scripted chunk (a whole reply), or
    has the scripted error (a timeout, a broken reply) thrown into the plan there."""
    script = deque(server)
    conn = plan.connection
    run = PlanRun()
    steps = plan.steps()
    outcome: Reply | None = None
    failure: CdoMailError | None = None
    try:
        while True:
            step = steps.send(outcome) if failure is None else steps.throw(failure)
            run.steps.append(step)
            outcome, failure = None, None
            if isinstance(step, Send):
                run.sent += conn.send(step.command)
            elif isinstance(step, Receive):
                chunk = script.popleft()
                if isinstance(chunk, CdoMailError):
                    failure = chunk
                    continue
                conn.receive_data(chunk)
                event = conn.next_event()
                assert event is not NEED_DATA and isinstance(event, Reply), event
                outcome = event
            else:
                assert isinstance(step, Open | UpgradeTLS | Close | Note)
    except StopIteration:
        pass
    except CdoMailError as exc:
        run.error = exc
    assert not script, f"replies never read: {list(script)}"
    return run
