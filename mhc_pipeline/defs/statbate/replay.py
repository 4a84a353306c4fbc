"""StatBate replays (`mhc land statbate-model-info|statbate-member-info|statbate-tips FILE`): a saved
answer lands through the live path's own checks (client.py)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mhc_pipeline import load
from mhc_pipeline.defs.statbate.client import (
    MEMBER_INFO_TABLE,
    MODEL_INFO_TABLE,
    SOURCE,
    TIPS_TABLE,
    info_answer,
    tips_page,
)
from mhc_pipeline.load import Batch

# ---------------------------------------------------------------------------------------------------
# Replays (`mhc land statbate-model-info|statbate-member-info|statbate-tips FILE --fetched-at TS`): one
# saved answer of one person lands through the same checks as a live one, with the identity of an on-demand
# look-up of that person at that time (scope `lookup:<name>`); no tip cursor moves (tips are unique
# downstream by their own identity). Staging reads the site, the side and the person from the request URL,
# so the request column is `file://<file>?path=/<model|members>/<site>/<name>/<info|tips>`.
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
INFO_SHAPE = '{"data": {"name": ..., ...}, "meta": {...}} or the 404 body {"error": "... not found"}'
TIPS_SHAPE = '{"data": [tips], "meta": {"model"|"member": {"id", "name"}, "pagination": {"last_page": ...}}}'


def _replay_request(path: Path, kind: str, site: str, name: str, what: str) -> str:
    side = "model" if kind == "model" else "members"
    return f"file://{path.name}?path=/{side}/{quote(site)}/{quote(name)}/{what}"


def _replay_name(path: Path, named: Any, username: str | None, what: str) -> str:
    """The person a saved answer is about: the name it carries, else --username (they must agree)."""
    named = named.strip() if isinstance(named, str) and named.strip() else None
    given = (username or "").strip() or None
    if named and given and named.lower() != given.lower():
        raise ValueError(f"{path.name} is the {what} of {named!r}, not of --username {given!r}: leave --username "
                         "out or give the answer's own name")
    name = given or named
    if not name:
        raise ValueError(f"{path.name} does not name its person (a 404 body does not): give the username it "
                         "was asked for with --username NAME")
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a username (letters, digits and _ only)")
    return name.lower()


def info_batch_from_file(path: Path, fetched_at: datetime, kind: str, username: str | None = None) -> Batch:
    """A saved model info (`kind` "model") or member info ("member") answer as the look-up of its person
    at `fetched_at` would have landed it. A 404 body `{"error": "Model not found"}` is landed as the fact
    it is (it needs --username: it does not name the person)."""
    other = "member" if kind == "model" else "model"
    data = load.read_saved_json(path)
    if not isinstance(data, dict) or not ("data" in data or isinstance(data.get("error"), str)):
        raise ValueError(f"{path.name} is not a saved StatBate {kind} info answer: expected {INFO_SHAPE}")
    error = data.get("error") if "data" not in data else None
    if error is not None and "not found" not in error.lower():
        raise ValueError(f"{path.name} is the StatBate error {error[:60]!r}, not an info answer: land only "
                         "answers and their 404 'not found' bodies")
    inner = data.get("data") if isinstance(data.get("data"), dict) else {}
    own_id, other_id = ("rid", "did") if kind == "model" else ("did", "rid")  # model id vs donor (member) id
    if (error or "").lower().startswith(other) or (other_id in inner and own_id not in inner):
        raise ValueError(f"{path.name} looks like {other} info, not {kind} info: land it as statbate-{other}-info")
    name = _replay_name(path, inner.get("name"), username, f"{kind} info")
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    site = meta.get("site") if isinstance(meta.get("site"), str) and meta["site"].strip() else "chaturbate"
    table = MODEL_INFO_TABLE if kind == "model" else MEMBER_INFO_TABLE
    batch = Batch(source=SOURCE, table=table, fetched_at=fetched_at, scope=f"lookup:{name}",
                  meta={"replayed_from": path.name})
    info_answer(data, 404 if error is not None else 200, kind, f"{kind} {name} info",
                _replay_request(path, kind, site.strip().lower(), name, "info"), batch)
    return batch


def tips_batch_from_file(path: Path, fetched_at: datetime, username: str | None = None) -> Batch:
    """A saved tips page (or a list of the pages of one person) as the look-up of its person at
    `fetched_at` would have landed it: the side (model or member tips) and the person come from the page's
    `meta.model` / `meta.member`; bad tips are quarantined and the rest of the page lands."""
    data = load.read_saved_json(path)
    pages = data if isinstance(data, list) and data else [data]
    sides = []
    for n, page in enumerate(pages):
        where = f"page {n} of {len(pages)} in {path.name}" if len(pages) > 1 else path.name
        meta = page.get("meta") if isinstance(page, dict) else None
        side = [k for k in ("model", "member") if isinstance(meta, dict) and isinstance(meta.get(k), dict)]
        if not isinstance(page, dict) or "data" not in page or len(side) != 1:
            raise ValueError(f"{where} is not a saved StatBate tips page: expected {TIPS_SHAPE} (or a list of "
                             "one person's pages)")
        sides.append((side[0], meta[side[0]].get("name"), meta.get("site")))
    names = {_replay_name(path, named, username, "tips") for _, named, _ in sides}
    if len(names) > 1:
        raise ValueError(f"{path.name} holds the tips of {len(names)} people ({', '.join(sorted(names))}): "
                         "save each person's pages in a file of their own")
    name = names.pop()
    batch = Batch(source=SOURCE, table=TIPS_TABLE, fetched_at=fetched_at, scope=f"lookup:{name}",
                  meta={"replayed_from": path.name})
    for n, (page, (kind, _, site)) in enumerate(zip(pages, sides)):
        site = site.strip().lower() if isinstance(site, str) and site.strip() else "chaturbate"
        tips_page(page, kind, f"{kind} {name} tips page {n + 1}", _replay_request(path, kind, site, name, "tips"),
                  batch)
    return batch
