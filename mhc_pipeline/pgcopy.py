"""How the loader writes a batch with PostgreSQL's COPY: the rows' JSON payloads, streamed in chunks in the
text format (tab-separated, with \\, \\t, \\n and \\r escaped), each fed to the batch's digest on the
way; and the quarantine rows. Used by `load.land()` only."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import psycopg2

from mhc_pipeline.http import redact

if TYPE_CHECKING:
    from mhc_pipeline.load import Batch, Reject


def payload(record: Any) -> bytes:
    return record if isinstance(record, bytes) else orjson.dumps(record)  # bytes: already JSON


def feed(h: Any, data: bytes) -> None:
    h.update(len(data).to_bytes(8, "big"))
    h.update(data)


# ---------------------------------------------------------------------------------------------------
# COPY encoding (text format): tab-separated, with \\, \t, \n and \r escaped.
def esc(data: bytes) -> bytes:
    if b"\\" in data:
        data = data.replace(b"\\", b"\\\\")
    if b"\t" in data or b"\n" in data or b"\r" in data:
        data = data.replace(b"\t", b"\\t").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return data


class _ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte chunks, for COPY FROM STDIN of a stream."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = b""
        self.error: BaseException | None = None  # what the stream raised (psycopg2 turns it into QueryCanceled)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        while size < 0 or len(self._buf) < size:
            try:
                chunk = next(self._chunks, None)
            except BaseException as exc:
                self.error = exc
                raise
            if chunk is None:
                break
            self._buf += chunk
        if size < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out


def copy_rows(cur, schema: str, batch: Batch, bid: uuid.UUID, fetched: datetime,
               nul_rows: list[tuple[int, bytes, str]], h: Any) -> int:
    """COPY the batch's records (streamed in ~1 MB chunks), each fed to the hash `h` (Batch.digest);
    returns the number of rows written. A record with a NUL character is not written: (its index, its JSON,
    its request) is appended to `nul_rows`."""
    head = b"\t".join([str(bid).encode(), b"%d", esc(batch.source.encode()), fetched.isoformat().encode()])
    head = head.replace(b"%", b"%%").replace(b"%%d", b"%d", 1)
    count = [0]
    values = iter(batch.values) if batch.columns else None

    def chunks() -> Iterator[bytes]:
        parts: list[bytes] = []
        size = 0
        last_request: str | None = None
        last_enc = b""
        row_no = 0
        for i, (record, request) in enumerate(batch.items()):
            data = payload(record)
            feed(h, data)
            own = b"" if values is None else b"".join(
                b"\t" + (b"\\N" if v is None else esc(str(v).encode())) for v in next(values))
            if b"\\u0000" in data:  # PostgreSQL jsonb cannot store NUL characters: land() quarantines it
                nul_rows.append((i, data, request))
                continue
            if request is not last_request:
                last_request, last_enc = request, esc(redact(request).encode())
            line = b"%s\t%s\t%s%s\n" % (head % row_no, last_enc, esc(data), own)
            row_no += 1
            parts.append(line)
            size += len(line)
            if size >= 1 << 20:
                yield b"".join(parts)
                parts, size = [], 0
        count[0] = row_no
        if parts:
            yield b"".join(parts)

    reader = _ChunkReader(chunks())
    try:
        cur.copy_expert(
            f"copy {schema}.{batch.table} (batch_id, row_no, source, fetched_at, request, payload"
            f"{''.join(', ' + c.name for c in batch.columns)}) from stdin",
            reader,
            size=1 << 20,
        )
    except psycopg2.Error:
        if reader.error is not None:  # the source failed mid-stream (e.g. a bad page): say that, not "COPY failed"
            raise reader.error from None
        raise
    return count[0]


def copy_quarantine(cur, schema: str, batch: Batch, bid: uuid.UUID, fetched: datetime,
                     rejects: Iterable[tuple[Reject, str]]) -> None:
    """Quarantine rows: via a temp table so a re-landed item is skipped (on conflict do nothing)."""
    cur.execute(
        f"create temp table if not exists _q (like {schema}.quarantine including defaults) on commit drop;"
        " truncate _q"
    )
    buf = io.BytesIO()
    for n, (reject, request) in enumerate(rejects):
        payload = b"\\N" if reject.payload is None else esc(orjson.dumps(reject.payload, default=str))
        body = b"\\N" if reject.body is None else esc(redact(reject.body).replace("\x00", "").encode())
        fields = [
            str(bid).encode(),
            esc((reject.key or f"item {n}").encode()),
            esc(batch.source.encode()),
            esc(batch.table.encode()),
            fetched.isoformat().encode(),
            esc(redact(request).encode()),
            esc(redact(reject.reason).encode()),
            payload,
            body,
        ]
        buf.write(b"\t".join(fields) + b"\n")
    buf.seek(0)
    cur.copy_expert(
        "copy _q (batch_id, item, source, raw_table, fetched_at, request, reason, payload, body) from stdin", buf
    )
    cur.execute(
        f"""insert into {schema}.quarantine
                (batch_id, item, source, raw_table, fetched_at, request, reason, payload, body)
            select batch_id, item, source, raw_table, fetched_at, request, reason, payload, body from _q
            on conflict (batch_id, item) do nothing"""
    )
