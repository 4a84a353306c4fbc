"""dbt kept loaded: one long-lived worker process runs the dbt builds of every run, with the parsed project
held in memory, so a build no longer pays for starting dbt.

Why. Every Dagster run is a fresh process, and dagster-dbt starts `dbt` as a subprocess in it: each build
paid ~5 CPU-s before its first SQL statement (importing dbt ~2.7, reading the partial parse and writing
manifest.json ~2). The CBHours minute builds 5 models; its dbt process cost more than its SQL. The worker
imports dbt once and parses the project once, and runs each build with dbt's programmatic entry point
(`dbtRunner(manifest=...)`, dbt's documented way to reuse a parsed manifest between invocations).

How. dagster-dbt's `dbt_executable` is `mhc-dbt` (`client()`, a console script that imports nothing but
the standard library). With MHC_DBT_WORKER_SOCKET set (`mhc dev` starts the worker and sets it for the
runs), it sends its command line, environment and folder to the worker over a Unix socket and relays what
dbt prints (the JSON log lines dagster-dbt reads) and dbt's exit code. Otherwise (no worker, the worker
busy with another build, a command it does not serve) it becomes the real `dbt` (exec), exactly as
before: tests and `mhc demo` run dbt as a process.

The worker serves `build`, `run`, `test` and `seed`, one at a time, with the manifest parsed for the
request's project folder, its dbt environment (every variable the project and its profile read) and
its files: a change to any of them parses again (dbt's own partial parse, once). Ctrl-C of the client
(Dagster terminating a run) interrupts the build in the worker as it would interrupt dbt.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

SOCKET_ENV = "MHC_DBT_WORKER_SOCKET"
SERVED = {"build", "run", "test", "seed"}
# the client's request is one JSON line; the worker answers with lines of one-letter frames:
# "o<line>" a line dbt printed, "e<line>" a line for stderr, "x<code>" dbt's exit code (last), "f<why>" run
# dbt yourself
OUT, ERR, EXIT, FALLBACK = "o", "e", "x", "f"


def real_dbt() -> str:
    return os.path.join(os.path.dirname(sys.executable), "dbt")


def client(argv: list[str] | None = None) -> int:
    """`mhc-dbt ARGS`: `dbt ARGS`, run by the worker when one answers, else by dbt itself."""
    argv = sys.argv[1:] if argv is None else argv
    # SIGINT is how dagster-dbt stops a build (Ctrl-C, as to dbt): honour it even when started with it
    # ignored (a process under a background job inherits SIGINT ignored, and Python then leaves it so)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    path = os.environ.get(SOCKET_ENV)
    sock = None
    if path and _servable(argv):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            sock = None
    if sock is None:
        return _exec_dbt(argv)
    request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}
    sock.sendall(json.dumps(request).encode() + b"\n")
    answer = sock.makefile("r", encoding="utf-8", newline="\n")
    out = sys.stdout
    try:
        for line in answer:
            kind, body = line[:1], line[1:]
            if kind == OUT:
                out.write(body)
                out.flush()
            elif kind == ERR:
                sys.stderr.write(body)
            elif kind == EXIT:
                return int(body)
            elif kind == FALLBACK:
                sock.close()
                return _exec_dbt(argv)
    except KeyboardInterrupt:  # Dagster terminates the run: closing the socket interrupts the build
        sock.close()
        os._exit(130)  # now: not after flushing what is left for a reader that may have stopped reading
    print(f"mhc-dbt: the dbt worker at {path} ended during the build (its log: MHC_DATA_DIR/logs/dbt-worker.log); "
          "until `mhc dev` starts again, every build runs in a dbt process of its own", file=sys.stderr)
    return 2


def _command(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _servable(argv: list[str]) -> bool:
    # --vars change what the project parses to: a process of its own parses them
    return _command(argv) in SERVED and not any(a == "--vars" or a.startswith("--vars=") for a in argv)


def _exec_dbt(argv: list[str]) -> int:
    dbt = real_dbt()
    sys.stdout.flush()
    os.execv(dbt, [dbt, *argv])
    return 127  # not reached


# -- the worker ---------------------------------------------------------------------------------------------

class _Lines:
    """A text stream for dbt's stdout logger that sends each line to the client as an "o" frame."""

    def __init__(self, conn: socket.socket):
        self.conn = conn
        self.partial = ""
        self.broken = False
        self.lines = 0

    def write(self, text: str) -> int:
        self.partial += text
        *lines, self.partial = self.partial.split("\n")
        self.lines += len(lines)
        if lines and not self.broken:
            try:
                self.conn.sendall("".join(f"{OUT}{line}\n" for line in lines).encode())
            except OSError:
                self.broken = True  # the client left: the build is being interrupted
        return len(text)

    def flush(self) -> None:
        pass


class Worker:
    """The worker's state: the manifests it parsed (the latest two: the live project, and an as-of
    build's), each with what it was parsed from."""

    def __init__(self, log=print):
        from dbt.cli.main import dbtRunner  # the one import every build used to pay

        self.runner_type = dbtRunner
        self.manifests: list[tuple[set, tuple, object]] = []  # (variable names, key, manifest)
        self.log = log
        self.builds = 0
        self.parses = 0
        self.cancelled = False  # the client of the build in progress left: its interrupt is expected

    def manifest_for(self, request: dict):
        """The manifest parsed for what this request's project depends on: its folder, its files, the
        profile and target flags, and the values of the environment variables the project and profile
        read (the database, the schemas); parsed now when none of the kept ones matches."""
        env, project, flags = request["env"], _project_dir(request), _parse_flags(request["argv"])
        given = dict(zip(flags[::2], flags[1::2]))
        chosen = tuple((f, v) for f, v in given.items() if f not in ("--target-path", "--log-path"))
        place = (project, chosen, env.get("DBT_PROFILES_DIR"), _files_stamp(project))

        def key(names: set) -> tuple:
            return place + tuple(sorted((n, env.get(n)) for n in names))

        for names, held, manifest in self.manifests:
            if key(names) == held:
                return manifest
        result = self.runner_type().invoke(["parse", *flags])
        self.parses += 1
        if not result.success:
            self.log(f"dbt parse failed in the worker: {result.exception}")
            return None
        manifest = result.result
        names = _env_names(project, given.get("--profiles-dir") or env.get("DBT_PROFILES_DIR") or project)
        names |= set(getattr(manifest, "env_vars", None) or {})
        self.manifests = self.manifests[-1:] + [(names, key(names), manifest)]
        return manifest

    def handle(self, conn: socket.socket, request: dict) -> int:
        import signal
        import threading

        from dbt_common.events.functions import capture_stdout_logs, stop_capture_stdout_logs

        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        stream = _Lines(conn)
        done = threading.Event()
        main = threading.main_thread().ident
        self.cancelled = False

        def watch() -> None:
            # the client closed the socket before the end (Dagster terminated the run): interrupt the
            # build as Ctrl-C interrupts dbt (it cancels its queries)
            try:
                while conn.recv(1024):
                    pass
            except OSError:
                pass
            if not done.is_set():
                stream.broken = True
                self.cancelled = True
                signal.pthread_kill(main, signal.SIGINT)

        threading.Thread(target=watch, daemon=True).start()
        capture_stdout_logs(stream)
        try:
            manifest = self.manifest_for(request)
            if manifest is None:
                return 2
            argv = list(request["argv"])
            # dbt writes manifest.json after every build (~1 CPU-s: the whole project, compiled); nothing
            # reads a build's copy (Dagster has the code location's), so only run_results.json is written
            write = "--no-write-json" not in argv and os.environ.get("DBT_WRITE_JSON", "").lower() not in ("0", "false")
            result = self.runner_type(manifest=manifest).invoke(argv + (["--no-write-json"] if write else []))
            self.builds += 1
            if write and hasattr(result.result, "write"):
                _write_run_results(result.result, request)
            if result.exception is not None and not stream.lines:
                # what dbt's command line prints for an error raised before its logging starts (a usage error)
                _send(conn, "".join(f"{ERR}{line}\n" for line in f"Error: {result.exception}".splitlines()))
            # dbt's own exit codes (dbt.cli.main.cli): 0 success, 1 a node failed, 2 dbt itself failed
            return 0 if result.success else (1 if result.exception is None else 2)
        finally:
            done.set()
            stop_capture_stdout_logs()
            os.environ.clear()
            os.environ.update(saved_env)
            os.chdir(saved_cwd)


# the flags that decide which project is parsed, with which profile, and where dbt writes
PARSE_FLAGS = ("--project-dir", "--profiles-dir", "--profile", "--target", "-t", "--target-path", "--log-path")


def _parse_flags(argv: list[str]) -> list[str]:
    """The PARSE_FLAGS of a command line, as `[flag, value, ...]`."""
    out, args = [], iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if name in PARSE_FLAGS:
            out += [name, value if eq else next(args, "")]
    return out


def _project_dir(request: dict) -> str:
    flags = _parse_flags(request["argv"])
    given = dict(zip(flags[::2], flags[1::2])).get("--project-dir") or request["env"].get("DBT_PROJECT_DIR")
    return os.path.abspath(os.path.join(request["cwd"], given or "."))


def _write_run_results(result, request: dict) -> None:
    from dbt.constants import RUN_RESULTS_FILE_NAME
    from dbt.flags import get_flags

    target = os.path.join(_project_dir(request), getattr(get_flags(), "TARGET_PATH", None) or "target")
    os.makedirs(target, exist_ok=True)
    result.write(os.path.join(target, RUN_RESULTS_FILE_NAME))


def _env_names(project: str, profiles: str) -> set[str]:
    import re

    names: set[str] = set()
    for path in (os.path.join(project, "dbt_project.yml"), os.path.join(profiles, "profiles.yml")):
        try:
            with open(path, encoding="utf-8") as f:
                names |= set(re.findall(r"env_var\(\s*['\"]([A-Za-z0-9_]+)", f.read()))
        except OSError:
            pass
    return names


def _files_stamp(project: str) -> tuple:
    """The newest change among the project's files (and their count: a deleted file counts too)."""
    newest, count = 0.0, 0
    for folder in ("models", "macros", "seeds", "tests", "snapshots", "analyses"):
        for root, _, files in os.walk(os.path.join(project, folder)):
            for name in files:
                try:
                    newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
                except OSError:
                    continue
                count += 1
    for name in ("dbt_project.yml", "profiles.yml"):
        try:
            newest = max(newest, os.stat(os.path.join(project, name)).st_mtime)
        except OSError:
            pass
    return newest, count


def serve(path: str) -> None:
    """Serve builds on the Unix socket `path` until SIGTERM or SIGINT. One build at a time: a request that
    comes while one runs is told to run its own dbt, so a long build (the daily history checks) never
    holds back the minute's."""
    import queue
    import threading
    import time

    def log(text: str) -> None:
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} dbt worker: {text}", file=sys.stderr, flush=True)

    t0 = time.process_time()
    worker = Worker(log)
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)  # the requests carry the database password: only this user may connect
    try:
        server.bind(path)
    finally:
        os.umask(old)
    server.listen(8)
    log(f"ready on {path} (dbt loaded in {time.process_time() - t0:.1f} CPU-s)")
    work: queue.Queue = queue.Queue()
    busy = threading.Event()

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            try:
                conn.settimeout(10)  # a client that connects and says nothing must not hold up the next
                request = json.loads(conn.makefile("rb").readline())
                conn.settimeout(None)
            except (OSError, ValueError):
                conn.close()
                continue
            if busy.is_set():
                log("busy with a build: a client runs its own dbt")
                _send(conn, f"{FALLBACK}busy\n")
                conn.close()
                continue
            busy.set()
            work.put((conn, request))

    threading.Thread(target=accept, daemon=True).start()
    stopping: list[int] = []

    def stop(*_) -> None:
        stopping.append(1)
        work.put(None)
        if busy.is_set():  # interrupt the build in progress as Ctrl-C would
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # the watcher thread interrupts a build whose caller went away with SIGINT to this thread: honour it
    # even when started with SIGINT ignored (under a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while not stopping:
            try:
                item = work.get()
            except KeyboardInterrupt:
                if worker.cancelled and not stopping:  # a late interrupt of a build that had just ended
                    worker.cancelled = False
                    continue
                break  # Ctrl-C
            if item is None:
                break
            conn, request = item
            c0 = time.process_time()
            code = 2
            try:
                code = worker.handle(conn, request)
            except KeyboardInterrupt:
                code = 130
            except Exception as e:  # a bug here must not end the worker: the build fails, saying why
                log(f"build failed in the worker: {e!r}")
            finally:
                _send(conn, f"{EXIT}{code}\n")
                conn.close()
                busy.clear()
            log(f"dbt {_command(request['argv'])} exit {code}, {time.process_time() - c0:.2f} CPU-s "
                f"(builds {worker.builds}, parses {worker.parses})")
    finally:
        server.close()
        if os.path.exists(path):
            os.unlink(path)


def _send(conn: socket.socket, text: str) -> None:
    try:
        conn.sendall(text.encode())
    except OSError:
        pass


if __name__ == "__main__":
    serve(sys.argv[1])
