"""`mhc docs`: the dbt docs site (`dbt docs generate --static`), served on 127.0.0.1."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from mhc_pipeline import report, runtime, settings


@click.command("docs", short_help="Generate the dbt docs site and serve it on 127.0.0.1.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port to serve the site on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve the site on.")
@click.option("--no-serve", is_flag=True, help="Only generate the site (into <MHC_DATA_DIR>/dbt_docs).")
def command(port: int, host: str, no_serve: bool) -> int:
    """`dbt docs generate --static` (one self-contained HTML file with the catalog of the built tables),
    then serve it on 127.0.0.1 until Ctrl-C."""
    import http.server
    import shutil

    settings.prepare_env(check=False)
    url = runtime.ensure_database()
    if not no_serve and runtime.port_in_use(host, port):
        print(f"error: {runtime.port_taken_message('docs', host, port)}", file=sys.stderr)
        return 2
    site = settings.data_dir() / "dbt_docs"
    dbt = str(Path(sys.executable).parent / "dbt")
    project = str(settings.DBT_PROJECT_DIR)
    if not report.models_built(url):
        print("note: the models are not built on this database yet, so the docs have descriptions and lineage "
              "but no column types; run `make demo` (or `mhc build`) first for the full catalog.", flush=True)
    print("dbt docs generate --static ...", flush=True)
    started = time.monotonic()
    proc = subprocess.run([dbt, "docs", "generate", "--static", "--project-dir", project, "--profiles-dir", project,
                           "--target-path", str(site), "--log-path", str(settings.data_dir() / "logs")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], file=sys.stderr)
        print("error: dbt docs generate failed (its output is above)", file=sys.stderr)
        return 1
    shutil.copyfile(site / "static_index.html", site / "index.html")
    print(f"  wrote {site / 'index.html'} in {time.monotonic() - started:.1f}s")
    if no_serve:
        return 0

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(site), **kw)

        def log_message(self, *a):  # no request log on the terminal
            pass

    server = http.server.ThreadingHTTPServer((host, port), Quiet)
    print(f"dbt docs: http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
