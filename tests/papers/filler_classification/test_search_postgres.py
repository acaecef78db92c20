"""Parallel search on a real engine: worker processes sharing one study in a PostgreSQL server that
this file starts (Debian's ``postgresql`` package, on loopback) or in a journal file, and a worker
killed in the middle of a trial whose study resumes.

The server runs as the ``postgres`` user when the tests run as root (``initdb`` refuses root), from
a private directory in /tmp, on 127.0.0.1 and a free port, and is stopped at the end of the session.
Without the server binaries or a Python driver the PostgreSQL tests are skipped and say what to
install; the journal-file variant always runs.
"""

import glob
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

from helpers.papers.filler_classification.search import make_storage, open_study, run_workers, worker_command  # noqa: E402

TOY = "helpers.papers.filler_classification.search:toy_objective"
HEARTBEAT_S = 1  # the storage's grace period is three heartbeats


def _pg_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's versioned dirs."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        initdb, pg_ctl = Path(initdb).resolve(), Path(pg_ctl).resolve()
        if initdb.parent == pg_ctl.parent:
            return initdb.parent
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")
             if os.access(Path(p).parent / "pg_ctl", os.X_OK)]
    version = lambda d: [int(x) for x in re.findall(r"\d+", d.parent.name)] or [0]  # noqa: E731
    return max(found, key=version) if found else None


def _driver() -> tuple[str, object] | None:
    """(SQLAlchemy dialect, DB-API module) of an installed PostgreSQL driver."""
    for dialect, module in (("postgresql+psycopg2", "psycopg2"), ("postgresql+psycopg", "psycopg")):
        try:
            return dialect, __import__(module)
        except ImportError:
            continue
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """A ``postgresql+<driver>://`` URL of an empty database on a private, throw-away server."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    driver = _driver()
    if driver is None:
        pytest.skip("no PostgreSQL driver for Python: pip install psycopg2-binary (or pip install -e '.[hpo]')")
    dialect, dbapi = driver
    as_server_user: list[str] = []
    owner = None
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server: "
                        "apt-get install postgresql creates it")
        as_server_user = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else ["su"]

    def server_cmd(*args: str) -> list[str]:
        cmd = [str(a) for a in args]
        if as_server_user == ["su"]:
            return ["su", "-s", "/bin/sh", "-c", shlex.join(cmd), "postgres"]
        return as_server_user + cmd

    # Not pytest's tmp_path: its parents are private to root, and the server user must reach the dir.
    base = Path(tempfile.mkdtemp(prefix="helpers-pg-"))
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, log = base / "data", base / "server.log"

    def run(*args: str, timeout: float = 60) -> None:
        r = subprocess.run(server_cmd(*args), cwd=base, capture_output=True, text=True, timeout=timeout)
        if r.returncode:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}{r.stderr}\n{tail}")

    started = False
    try:
        run(bindir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
            "--no-sync")
        for attempt in range(3):  # a free port can be taken between choosing it and binding it
            port = _free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='{base}' "
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                    "-c max_connections=50 -c shared_buffers=16MB")
            try:
                run(bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "30", "-o", opts, "start")
                started = True
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        conn = dbapi.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        try:
            conn.cursor().execute("CREATE DATABASE helpers_test")
        finally:
            conn.close()
        yield f"{dialect}://postgres@127.0.0.1:{port}/helpers_test"
    finally:
        if started:
            try:
                run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "30", "stop")
            except Exception:  # last resort: the server we started, by the pid it wrote
                pidfile = data / "postmaster.pid"
                if pidfile.exists():
                    try:
                        os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
                    except (ValueError, ProcessLookupError):
                        pass
        shutil.rmtree(base, ignore_errors=True)


def _url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return f"journal:{tmp_path / 'study.log'}" if kind == "journal" else request.getfixturevalue("postgres_url")


def _params(t) -> tuple:
    return tuple(sorted(t.params.items()))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["journal", "postgres"])
def test_three_worker_processes_share_one_study(kind, tmp_path, request):
    url, name, total, n_workers = _url(kind, tmp_path, request), f"shared-{kind}", 12, 3
    out = run_workers(n_workers, url, name, total, TOY, argument="0.05", sampler="random", timeout=120,
                      heartbeat_s=HEARTBEAT_S)
    assert out["returncodes"] == [0] * n_workers
    study = open_study(name, url, heartbeat_s=HEARTBEAT_S)
    trials = study.get_trials()
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    # Every trial finished; nothing failed, nothing left running or waiting.
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    # The workers stop at the total; a worker already inside a trial when another one reached the
    # total finishes it, so up to n_workers - 1 trials more can complete (Optuna's MaxTrialsCallback).
    assert total <= len(done) <= total + n_workers - 1
    # Trial numbers are handed out once each: unique and contiguous.
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    # Each worker samples with its own seed: with continuous parameters a repeated point would mean
    # two workers replaying one random stream, not chance.
    assert len({_params(t) for t in done}) == len(done)
    assert len({t.user_attrs["worker"] for t in done}) >= 2  # the work really was shared
    values = [t.value for t in done]
    assert study.best_value == max(values) and study.best_trial.value == max(values)


@pytest.mark.slow
def test_worker_killed_mid_trial_on_postgres_is_failed_by_heartbeat_and_the_study_resumes(postgres_url, tmp_path):
    url, name = postgres_url, "killed-mid-trial"
    open_study(name, url, heartbeat_s=HEARTBEAT_S)  # exists before anyone polls it
    storage = make_storage(url, HEARTBEAT_S)

    def watch():
        # Plain load_study: no pid check (open_study's fail_stale_trials), only what the database knows.
        return optuna.load_study(study_name=name, storage=storage)

    # One worker with 1-second trials and the sampler seed 0; killed (SIGKILL) inside its third trial.
    log = tmp_path / "worker.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(worker_command(url, name, 50, TOY, "1.0", "random", seed=0, heartbeat_s=HEARTBEAT_S),
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None, f"the worker exited early:\n{log.read_text()[-2000:]}"
            assert time.time() < deadline, "the worker never reached a third trial"
            trials = watch().get_trials(deepcopy=False)
            running = [t for t in trials if t.state == TrialState.RUNNING and "worker" in t.user_attrs]
            if len([t for t in trials if t.state == TrialState.COMPLETE]) >= 2 and running:
                break
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)  # the objective sleeps a second after tagging the trial
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    trials = watch().get_trials()
    killed = [t for t in trials if t.state == TrialState.RUNNING]
    assert [t.number for t in killed] == [running[0].number]  # the dead worker's trial, still RUNNING
    killed = killed[0]
    before = {t.number: (t.value, _params(t)) for t in trials if t.state == TrialState.COMPLETE}
    assert len(before) >= 2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # Within the grace period (3 heartbeats) the trial is still taken for alive ...
        optuna.storages.fail_stale_trials(watch())
        assert watch().trials[killed.number].state == TrialState.RUNNING
        # ... and after it the heartbeat check, which every worker runs before each trial, fails it.
        deadline = time.time() + 30
        while watch().trials[killed.number].state == TrialState.RUNNING:
            assert time.time() < deadline, "the heartbeat check never failed the dead worker's trial"
            time.sleep(0.5)
            optuna.storages.fail_stale_trials(watch())
    trials = watch().trials
    assert trials[killed.number].state == TrialState.FAIL
    # make_storage's callback has max_retry=0: the failed trial is not re-queued.
    assert not [t for t in trials if t.state == TrialState.WAITING or "failed_trial" in t.system_attrs]

    # Resume with the same command (same seed) and a target three trials beyond what was done.
    target = len(before) + 3
    r = subprocess.run(worker_command(url, name, target, TOY, "0.05", "random", seed=0, heartbeat_s=HEARTBEAT_S),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]

    study = open_study(name, url, heartbeat_s=HEARTBEAT_S)
    trials = study.get_trials()
    after = {t.number: (t.value, _params(t)) for t in trials if t.state == TrialState.COMPLETE}
    assert len(after) == target  # one worker: exactly the target
    assert all(after[k] == v for k, v in before.items())  # nothing lost or changed
    assert all(k > killed.number for k in set(after) - set(before))  # new trials came after the kill
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert [t.number for t in trials if t.state == TrialState.FAIL] == [killed.number]
    assert {t.state for t in trials} == {TrialState.COMPLETE, TrialState.FAIL}
    # The restarted worker did not replay the killed worker's random stream (its seed is offset by
    # the trials already there), so no configuration was evaluated twice.
    assert len({p for _, p in after.values()}) == len(after)
    assert killed.params and _params(killed) not in {p for _, p in after.values()}
    assert study.best_value == max(v for v, _ in after.values())
