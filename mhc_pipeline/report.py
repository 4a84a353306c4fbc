"""The current state, as read back from the product schema: the one set of queries behind both the
terminal report of `mhc demo` and the Dagster metadata of the merged state (its preview of the top
online persons, each source's share of the winning values) and of the monitoring marts.

- `counts()` and `top_online()` are the queries both read: persons and how many are online, and the
  top online persons by viewers;
- `print_current_state()` is the terminal report (`mhc demo`), `models_built()` whether there is one;
- `merged_state_metadata()` / `monitoring_metadata()` are the Dagster metadata (dbt.py attaches them);
- `rows()` / `markdown()` run a query into dict rows and show rows as a Markdown table.
"""

from __future__ import annotations

from typing import Any

from mhc_pipeline import db, settings


def rows(cur, sql: str, params: tuple = ()) -> tuple[list[str], list[dict]]:
    cur.execute(sql, params or None)
    cols = [d[0] for d in cur.description]
    return cols, [dict(zip(cols, r)) for r in cur.fetchall()]


def counts(cur, relation: str) -> tuple[int, int]:
    """Persons in the merged state `relation`, and how many of them are online."""
    cur.execute(f"select count(*), count(*) filter (where is_online) from {relation}")
    persons, online = cur.fetchone()
    return persons, online


def top_online(cur, relation: str, columns: str, limit: int = 10) -> tuple[list[str], list[dict]]:
    """The `limit` online persons of `relation` with the most viewers: `columns` of each."""
    return rows(cur, f"""select {columns} from {relation} where is_online
                          order by viewers desc nulls last, username limit %s""", (limit,))


def models_built(url: str) -> bool:
    schema = settings.get("MHC_PRODUCT_SCHEMA")
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null and to_regclass(%s) is not null",
                    (f"{schema}.merge_rules", f"{schema}.person_current_state"))
        return bool(cur.fetchone()[0])


def print_current_state(url: str, limit: int = 10) -> None:
    """The terminal report of the merged state (`mhc demo`): counts, one line per side source, and the top
    `limit` online persons with the source of each value."""
    import pandas as pd

    schema = settings.get("MHC_PRODUCT_SCHEMA")
    with db.connection(url) as conn, conn.cursor() as cur:
        persons, online = counts(cur, f"{schema}.v_person_current_state")
        cur.execute(f"select role, count(*) from {schema}.persons group by 1 order by 1")
        roles = ", ".join(f"{n} {r}" for r, n in cur.fetchall())
        cur.execute(f"select count(*) from {schema}.interactions")
        interactions = cur.fetchone()[0]
        print(f"  persons: {persons} ({roles}), online now: {online}, interactions: {interactions}")
        for line in _source_lines(cur, schema):
            print(line)
        cols, top = top_online(cur, f"{schema}.v_person_current_state", """
            username, role, current_show as show, viewers, viewers_source as viewers_from, followers,
            followers_source as followers_from, rank, rank_source as rank_from, gender,
            gender_source as gender_from, owner_follows""", limit)
        frame = pd.DataFrame(top, columns=cols)
    if frame.empty:
        print("  (nobody online)")
    else:
        print(f"  top {limit} online by viewers, with the source of each value:")
        frame = frame.convert_dtypes()  # integer columns with nulls stay integers (Int64), not floats
        frame = frame.astype(object).where(frame.notna(), "")  # nulls print blank
        print("\n".join("  " + line for line in frame.to_string(index=False).splitlines()))


def _source_lines(cur, schema: str) -> list[str]:
    """One line each for the owner's Stats API snapshot, the follow lists and StatBate."""
    lines = []
    cur.execute(f"""select username, captured_at, num_followers, token_balance, tips_in_last_hour
                      from {schema}.snapshots order by captured_at desc limit 1""")
    row = cur.fetchone()
    if row:
        lines.append(f"  owner {row[0]} (Stats API at {row[1]:%H:%M}Z): {row[2]} followers, {row[3]} tokens, "
                     f"{row[4] if row[4] is not None else 'no'} tips in the last hour")
    cur.execute(f"""select direction, count(*) filter (where is_active), count(*) filter (where not is_active)
                      from {schema}.follows group by 1 order by 1""")
    follows = ", ".join(f"{direction}: {active} (+{gone} unfollowed)" for direction, active, gone in cur.fetchall())
    lines.append(f"  follow lists: {follows or 'none landed'}")
    cur.execute(f"""select (select count(*) from {schema}.statbate_model_info),
                           (select count(*) from {schema}.statbate_member_info),
                           (select count(*) from {schema}.statbate_tips)""")
    models, members, tips = cur.fetchone()
    lines.append(f"  StatBate: {models} model info, {members} member info, {tips} tips")
    return lines


def merged_state_metadata(conn, schema: str) -> dict[str, Any]:
    """What an operator wants to see on the merged state: a preview of the top online persons, and each
    source's share of the winning values (numbers, so the Dagster UI plots them over time)."""
    import dagster as dg

    with conn.cursor() as cur:
        cur.execute(
            """select column_name from information_schema.columns
                where table_schema = %s and table_name = 'person_current_state' and column_name like '%%\\_source'
                order by ordinal_position""",
            (schema,),
        )
        source_cols = [r[0] for r in cur.fetchall()]
        values = ", ".join(f"({c})" for c in source_cols)
        _, shares = rows(cur, f"""
            select v.source, count(*) as winning_values,
                   round(count(*)::numeric / sum(count(*)) over (), 4) as share
              from {schema}.person_current_state cross join lateral (values {values}) as v (source)
             where v.source is not null group by v.source order by v.source""")
        cols, top = top_online(cur, f"{schema}.person_current_state", """
            username, current_show, viewers, viewers_source, followers, followers_source, rank, rank_source""")
        persons, online = counts(cur, f"{schema}.person_current_state")
        # how many persons this build merged again (the others held: dbt_project/macros/merge_scope.sql)
        cur.execute("select to_regclass(%s)", (f"{schema}.person_current_state_build",))
        merged = None
        if cur.fetchone()[0]:
            cur.execute(f"select persons_merged from {schema}.person_current_state_build")
            merged = (cur.fetchone() or [None])[0]
    conn.commit()
    meta: dict[str, Any] = {f"share_{r['source']}": float(r["share"]) for r in shares}
    meta["winning_values_by_source"] = dg.MetadataValue.md(markdown(["source", "winning_values", "share"], shares))
    meta["preview_top_online"] = dg.MetadataValue.md(markdown(cols, top))
    meta.update({"persons": persons, "online": online, "dagster/row_count": persons})
    if merged is not None:
        meta["persons_merged"] = merged
    return meta


def monitoring_metadata(conn, schema: str, model: str) -> dict[str, Any]:
    """source_freshness / source_coverage as Dagster metadata: the table, and one number per source."""
    import dagster as dg

    number = {"source_freshness": "minutes_since_fetch", "source_coverage": "persons_covered"}[model]
    with conn.cursor() as cur:
        cols, found = rows(cur, f"select * from {schema}.{model} order by source")
    conn.commit()
    meta: dict[str, Any] = {model: dg.MetadataValue.md(markdown(cols, found))}
    meta.update({f"{number}_{r['source']}": float(r[number]) for r in found if r[number] is not None})
    if model == "source_freshness":
        meta["sources_not_fresh"] = sum(r["freshness_status"] != "pass" for r in found)
    return meta


def markdown(cols: list[str], found: list[dict]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.3f}"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in found]
    return "\n".join(lines)
