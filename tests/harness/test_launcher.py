"""The launcher's replicas (names and ports) and its output to a reader that went away."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from testkit.launcher import IDENTITY, REPLICA_PORT_STEP, SERVICES, System


def test_replica_k_listens_on_the_ports_moved_by_k_steps(tmp_path: Path) -> None:
    system = System(tmp_path, port_offset=1000, replicas=2)
    order = SERVICES[0]
    assert system.replicas_of(order) == 2 and system.replicas_of(IDENTITY) == 1
    assert system.process_name(order, "api") == "order-service-api"
    assert system.process_name(order, "worker", 1) == "order-service-worker-1"
    env = system.env_for(order, 1)
    assert env["HTTP_PORT"] == str(order.http_port + 1000 + REPLICA_PORT_STEP)
    assert env["WORKER_WEB_PORT"] == str(order.worker_web_port + 1000 + REPLICA_PORT_STEP)
    replica = system.endpoints_of(1)
    assert replica.order == f"http://127.0.0.1:{order.http_port + 1000 + REPLICA_PORT_STEP}"
    assert replica.identity == system.url(IDENTITY.name)  # the issuer runs once


def test_a_closed_stdout_does_not_stop_the_launcher() -> None:
    script = (
        "from testkit.launcher import say\n"
        "for n in range(10000): say(f'line {n}')\n"
        "import sys; sys.stderr.write('went on\\n')\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert writer.stdout is not None and writer.stderr is not None
    writer.stdout.readline()
    writer.stdout.close()  # `| head` read its lines and left
    assert writer.wait(timeout=60) == 0
    assert b"went on" in writer.stderr.read()


def test_the_services_die_with_a_killed_launcher() -> None:
    script = (
        "import subprocess, sys, time\n"
        "from testkit.launcher import _die_with_launcher\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " start_new_session=True, preexec_fn=_die_with_launcher)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    launcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert launcher.stdout is not None
    child = int(launcher.stdout.readline())
    launcher.kill()  # SIGKILL: no handler of the launcher runs
    launcher.wait()
    deadline = time.monotonic() + 30
    while _alive(child):
        assert time.monotonic() < deadline, "the child outlived its launcher"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie, reaped by init soon, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
