#!/usr/bin/env python3
"""The classification + aggregation job of `permlens analyze`, done by DuckDB: the baseline of
benches/run.sh's "vs DuckDB" rows (issue 24).

Usage: duckdb_job.py LOG.jsonl ROUTES.csv OUT.csv [THREADS]
       duckdb_job.py --check OUT.csv PERMLENS_USAGE.csv

ROUTES.csv is `permlens catalog --format csv` (the route table permlens classifies with). The
job reads the JSON lines (only the columns it needs), classifies each request to its catalog
route with the same rules as permlens for these logs (method + path template: `{name}` is one
non-empty segment, `**` one or more trailing segments; the target without scheme, host, query
string or fragment), and aggregates per user x route x status: count, first and last time.
Literal routes are joined on (method, path) equality, templated ones (a handful) matched by a
CASE of regular expressions behind prefix tests, in one pass over the file: the fastest of the
formulations tried (a UNION of an equality join and a regexp join read the file twice and took
about twice the time; aggregating before classifying was no faster).

What it does not do, unlike permlens: percent-decoding and dot-segment removal of targets,
alias tables for field names, malformed-line accounting, unmatched calls, context classes and
everything after the aggregation (the judging against a snapshot, the report). Generated logs
need none of the first three to be classified the same; `--check` compares the counts.

Prints the seconds the query took inside DuckDB (the import and the connection not counted):
the figure benches/run.sh compares with.
"""
import csv
import sys
import time


def job(log, routes, out, threads):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute(
        """
        CREATE TEMP TABLE routes AS
        SELECT method, path,
               '^' || regexp_replace(regexp_replace(path, '\\{[^}/]+\\}', '[^/]+', 'g'),
                                     '/\\*\\*$', '/.+') || '$' AS re,
               regexp_extract(path, '^[^{*]*') AS prefix,
               path NOT LIKE '%{%' AND path NOT LIKE '%**%' AS literal
        FROM read_csv(?, header = true, all_varchar = true)
        """,
        [routes],
    )
    # Templated routes (a handful) as one CASE, each behind a prefix test; literal routes
    # by a hash join on (method, path). Both from the exported table, nothing by hand.
    def q(s):
        return "'" + s.replace("'", "''") + "'"

    templated = con.execute("SELECT method, path, re, prefix FROM routes WHERE NOT literal").fetchall()
    case = " ".join(
        f"WHEN req.method = {q(m)} AND starts_with(req.p, {q(pre)}) AND regexp_full_match(req.p, {q(re)}) THEN {q(path)}"
        for m, path, re, pre in templated
    )
    case = f"CASE {case} END" if templated else "NULL"
    start = time.perf_counter()
    con.execute(
        f"""
        COPY (
          WITH req AS (
            SELECT user_name AS usr, request_method AS method, status, "@timestamp" AS ts,
                   split_part(split_part(
                     CASE WHEN starts_with(request_uri, '/') THEN request_uri
                          ELSE regexp_replace(request_uri, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*', '') END,
                     '?', 1), '#', 1) AS p
            FROM read_ndjson(?, columns = {{
              '@timestamp': 'TIMESTAMP', 'request_method': 'VARCHAR',
              'request_uri': 'VARCHAR', 'status': 'INTEGER', 'user_name': 'VARCHAR'}})
          ),
          classified AS (
            SELECT req.usr, req.method, coalesce(r.path, {case}) AS route, req.status, req.ts
            FROM req LEFT JOIN routes r ON r.literal AND req.method = r.method AND req.p = r.path
          )
          SELECT usr AS user, method, route, status, count(*) AS count,
                 min(ts) AS first_seen, max(ts) AS last_seen
          FROM classified WHERE route IS NOT NULL GROUP BY ALL ORDER BY ALL
        ) TO '{out}' (HEADER, DELIMITER ',')
        """,
        [log],
    )
    print(f"{time.perf_counter() - start:.3f}")


def check(duck, usage):
    """DuckDB's rows against permlens' usage.csv, per user x route x status: counts, first and
    last times (permlens splits a row further by error code, response source and context)."""
    from datetime import datetime

    def rows(path):
        out = {}
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                key = (row["user"], row["method"], row["route"], int(row["status"]))
                first = datetime.fromisoformat(row["first_seen"].replace("Z", "+00:00")).replace(tzinfo=None)
                last = datetime.fromisoformat(row["last_seen"].replace("Z", "+00:00")).replace(tzinfo=None)
                n, f0, l0 = out.get(key, (0, first, last))
                out[key] = (n + int(row["count"]), min(f0, first), max(l0, last))
        return out

    mine, theirs = rows(usage), rows(duck)
    if mine != theirs:
        diff = sorted(set(mine.items()) ^ set(theirs.items()))[:10]
        sys.exit(f"DuckDB and permlens disagree on {len(diff)}+ rows, e.g. {diff}")
    requests = sum(n for n, _, _ in mine.values())
    print(f"same rows: {len(mine)} user x route x status rows, {requests} requests, same first and last times")


if __name__ == "__main__":
    if sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3])
    else:
        job(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else 2)
