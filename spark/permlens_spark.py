#!/usr/bin/env python3
"""permlens on Spark: map the logs with permlens on the executors, reduce the partials with
Spark SQL, judge the reduced partials with permlens on the driver.

    spark-submit [--master ...] spark/permlens_spark.py LOGS... -p SNAPSHOT -o OUT \
        --permlens ./permlens [options]

See spark/README.md. Needs only PySpark (no pandas, no pyarrow) and a permlens binary that runs
on the executors' and the driver's OS.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from urllib.parse import unquote

# The partial schema this job reads and writes (`schema_version` column), and its columns in
# order with their Spark SQL types (spark/README.md, the README's "Partial schema").
PARTIAL_SCHEMA_VERSION = 2
COLUMNS = [
    ("schema_version", "int"),
    ("config", "string"),
    ("run", "string"),
    ("file", "string"),
    ("content", "string"),
    ("content_bytes", "bigint"),
    ("kind", "string"),
    ("user", "string"),
    ("user_id", "string"),
    ("method", "string"),
    ("route", "string"),
    ("path_shape", "string"),
    ("status", "int"),
    ("error_code", "string"),
    ("response_source", "string"),
    ("source_ip", "string"),
    ("hour", "timestamp"),
    ("count", "bigint"),
    ("first_seen", "timestamp"),
    ("last_seen", "timestamp"),
    ("sample_offsets", "string"),
    ("sample_request_ids", "string"),
]
# What the reduce adds up; every other column is the row's key.
MEASURES = ("count", "first_seen", "last_seen", "sample_offsets", "sample_request_ids")
SAMPLES_KEPT = 3

PROG = "permlens-spark"
GLOB_CHARS = re.compile(r"[*?\[\]{}]")


class JobError(Exception):
    """A run that could not be done: printed as one message, exit 2."""


def log(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Command line


def parse_size(text):
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?)[bB]?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512MiB, 1GiB, 1000000)")
    number, unit, binary = m.groups()
    base = 1024 if binary or unit == "" else 1000
    power = " kmgt".index(unit.lower()) if unit else 0
    return int(float(number) * base**power)


def positive_int(text):
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return n


def arguments(argv):
    p = argparse.ArgumentParser(
        prog="spark-submit spark/permlens_spark.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Scan gateway logs with permlens on a Spark cluster and judge them against an IAM\n"
            "snapshot: the files are distributed over the executors, each runs `permlens map`\n"
            "on its files, Spark SQL reduces the partials (content counted twice is counted\n"
            "once) into OUT/partials, and the driver runs `permlens analyze --partials` on them.\n"
            "Locations are local paths or any Hadoop URI (file://, hdfs://, s3a://, obs://)."
        ),
        epilog=(
            "outputs:\n"
            "  OUT/partials/        the reduced partials (Parquet, partial schema v2)\n"
            "  OUT/map-summary.json what the map read: the map.json totals added up, per file\n"
            "  REPORT               the permlens report (default OUT/report)\n"
            "exit codes: 0 done, 1 done and findings matched --fail-on, 2 could not be done\n"
            "(a map task failed, bad partials, bad options): nothing partial is reported."
        ),
    )
    io = p.add_argument_group("inputs and outputs")
    io.add_argument(
        "logs",
        nargs="*",
        metavar="LOGS",
        help="log files, directories (searched recursively; names starting with . or _ are "
        "skipped) or globs: URIs, or paths on Hadoop's default file system (the local one "
        "in local mode, HDFS on most clusters)",
    )
    io.add_argument(
        "--partials",
        action="append",
        default=[],
        metavar="LOCATION",
        help="partials made elsewhere (`permlens map` on a gateway, an earlier run's "
        "OUT/partials) to reduce with the logs' own: a directory (every *.parquet below it) "
        "or a glob; repeatable",
    )
    io.add_argument(
        "-o",
        "--out",
        required=True,
        metavar="OUT",
        help="output location, on a file system the executors and the driver reach (a URI, "
        "or a path on Hadoop's default file system); OUT/partials and OUT/map-summary.json "
        "are replaced",
    )
    io.add_argument(
        "-p",
        "--policies",
        action="append",
        default=[],
        metavar="SNAPSHOT",
        help="IAM snapshot file or directory of snapshots: a path on the driver's machine, or "
        "a URI (copied to the driver); repeatable; without it only usage is reported",
    )
    io.add_argument(
        "--report",
        metavar="REPORT",
        help="where the report goes (default OUT/report): a path on the driver's machine, or "
        "a URI the report is copied to",
    )
    io.add_argument(
        "--permlens",
        default="permlens",
        metavar="BINARY",
        help="the permlens binary: a local file (shipped with SparkContext.addFile), a URI, "
        "or the name of a file already shipped with spark-submit --files (default: "
        "`permlens`, then the PATH)",
    )
    io.add_argument(
        "--no-analyze",
        action="store_true",
        help="stop after writing OUT/partials (no snapshot needed)",
    )
    io.add_argument(
        "--keep-map-output",
        action="store_true",
        help="keep the map's staged partials under OUT/_map (removed after a successful run)",
    )

    m = p.add_argument_group(
        "reading (passed to `permlens map`, and to `analyze`, which refuses partials read "
        "with other options; see `permlens map --help`)"
    )
    m.add_argument("--catalog", metavar="FILE", help="route catalog (local file or URI, shipped)")
    m.add_argument(
        "--log-format",
        metavar="FORMAT",
        help="auto (default), json, apig, cts, or a gateway (kong, envoy, nginx, ...)",
    )
    m.add_argument(
        "--user-field",
        metavar="NAME",
        help="API Gateway field with the caller's IAM user name, e.g. custom_data_log1",
    )
    m.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="NAME=dotted.path",
        help="JSON field override, e.g. user=auth.user.name (repeatable)",
    )
    m.add_argument(
        "--strip-prefix",
        action="append",
        default=[],
        metavar="PREFIX",
        help="leading path segments removed before classification, e.g. /prod (repeatable)",
    )
    m.add_argument(
        "--timezone",
        metavar="OFFSET",
        help="zone of times written without one, e.g. +08:00",
    )
    m.add_argument(
        "--max-bad-ratio",
        metavar="R",
        help="largest tolerated share of malformed lines in each file (map only)",
    )
    m.add_argument(
        "--map-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="any other argument for `permlens map` (repeatable, e.g. --map-arg=--progress=never)",
    )
    m.add_argument(
        "--map-threads",
        type=positive_int,
        metavar="N",
        help="--threads of each `permlens map` (default: spark.task.cpus, 1 unless set)",
    )

    a = p.add_argument_group("judging (passed to `permlens analyze --partials`)")
    a.add_argument("--since", metavar="TIME", help="keep requests at or after TIME (RFC 3339 or YYYY-MM-DD)")
    a.add_argument("--until", metavar="TIME", help="keep requests before TIME")
    a.add_argument("--window", metavar="DURATION", help="findings over the last N days/hours/weeks (90d, 36h, 2w) before --until")
    a.add_argument("--min-days", metavar="N", help="observation window below which recommendations are low confidence")
    a.add_argument(
        "--fail-on",
        metavar="LIST",
        help="exit 1 when any of denied, drift, over-privileged, unused exist",
    )
    a.add_argument("--format", metavar="LIST", help="report formats: parquet, csv, html, no-html")
    a.add_argument(
        "--analyze-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="any other argument for `permlens analyze` (repeatable)",
    )

    d = p.add_argument_group("distribution")
    d.add_argument(
        "--files-per-task",
        type=positive_int,
        default=32,
        metavar="N",
        help="at most this many files per map task (default 32)",
    )
    d.add_argument(
        "--bytes-per-task",
        type=parse_size,
        default=parse_size("1GiB"),
        metavar="SIZE",
        help="about this many bytes of logs per map task (default 1GiB; a larger file is a "
        "task of its own)",
    )
    d.add_argument(
        "--fetch",
        choices=("auto", "local", "spark"),
        default="auto",
        help="how a task gets its files: `local` runs permlens on the path itself (file:// "
        "inputs the executors see); `spark` reads each file through Hadoop's FileSystem in the "
        "executor's JVM and writes it to local disk first (any scheme; a file must be under "
        "2 GiB, compress bigger ones); `auto` (default): local when every input is local",
    )
    d.add_argument(
        "--reduce-files",
        type=positive_int,
        metavar="N",
        help="files of OUT/partials (default: as Spark's adaptive execution decides)",
    )
    d.add_argument(
        "--local-tmp",
        metavar="DIR",
        help="scratch directory on the executors and the driver (default: Spark's local "
        "directory, else the system's)",
    )
    args = p.parse_args(argv)
    if not args.logs and not args.partials:
        p.error("give LOGS, --partials, or both")
    if not args.no_analyze and not args.policies:
        log("no -p/--policies: the report will hold usage only")
    return args


# ---------------------------------------------------------------------------------------------
# Hadoop FileSystem through the driver's JVM


class Hadoop:
    def __init__(self, sc):
        self.jvm = sc._jvm
        self.conf = sc._jsc.hadoopConfiguration()

    def path(self, location):
        return self.jvm.org.apache.hadoop.fs.Path(location)

    def fs(self, path):
        return path.getFileSystem(self.conf)

    def qualified(self, location):
        path = self.path(location)
        fs = self.fs(path)
        return fs, fs.makeQualified(path)

    def is_local(self, location):
        fs, _ = self.qualified(location)
        return fs.getScheme() == "file"

    def local_path(self, location):
        """The local path of a file:// location (or a plain path on a local default FS)."""
        _, q = self.qualified(location)
        return q.toUri().getPath()

    def exists(self, location):
        fs, q = self.qualified(location)
        return fs.exists(q)

    def delete(self, location):
        fs, q = self.qualified(location)
        if fs.exists(q):
            fs.delete(q, True)

    def replace(self, source, location):
        """Renames source to location, replacing what was there."""
        fs, q = self.qualified(location)
        _, src = self.qualified(source)
        if fs.exists(q):
            fs.delete(q, True)
        if not fs.rename(src, q):
            raise JobError(f"cannot rename {source} to {location}")

    def put(self, local, location):
        """Copies a local file or directory to location (replacing it)."""
        fs, q = self.qualified(location)
        if fs.exists(q):
            fs.delete(q, True)
        parent = q.getParent()
        if parent is not None:
            fs.mkdirs(parent)
        fs.copyFromLocalFile(False, True, self.path("file://" + os.path.abspath(local)), q)

    def get(self, location, local):
        """Copies a file or directory at location to the local path."""
        fs, q = self.qualified(location)
        fs.copyToLocalFile(False, q, self.path("file://" + os.path.abspath(local)), True)

    def list_files(self, location):
        """The files at location: itself, every file below it (names starting with `.` or `_`
        skipped at every level, as Spark and permlens skip them), or a glob's matches.
        [(qualified uri, name, bytes)]; name is the location as given joined with the path
        below it."""
        path = self.path(location)
        fs = self.fs(path)
        found = []
        if GLOB_CHARS.search(location):
            matches = fs.globStatus(path) or []
            if not matches:
                raise JobError(f"{location}: no file matches")
            for status in matches:
                uri = status.getPath().toString()
                self._walk(fs, status, self._name_of(location, uri), found)
            return found
        if not fs.exists(path):
            raise JobError(f"{location}: no such file or directory")
        status = fs.getFileStatus(path)
        self._walk(fs, status, location.rstrip("/") if status.isDirectory() else location, found)
        return found

    @staticmethod
    def _name_of(given, uri):
        """The name of a glob's match: a local path stays a path (relative when the glob
        is), as `permlens analyze` names it; anything else is its URI."""
        if "://" not in given and not given.startswith("file:") and uri.startswith("file:"):
            path = re.sub(r"^file:(//)?", "", uri)  # Path.toString(): not percent-encoded
            return path if os.path.isabs(given) else os.path.relpath(path)
        return uri

    def _walk(self, fs, status, name, found):
        if status.isDirectory():
            for child in sorted(fs.listStatus(status.getPath()), key=lambda s: s.getPath().getName()):
                base = child.getPath().getName()
                if base.startswith(".") or base.startswith("_"):
                    continue
                self._walk(fs, child, f"{name}/{base}", found)
        elif status.isFile():
            found.append((status.getPath().toString(), name, status.getLen()))


# ---------------------------------------------------------------------------------------------
# The map: permlens on each partition (runs on the executors: plain Python, no JVM)


def shipped(name):
    """A file shipped with addFile/--files, executable, as a local path."""
    from pyspark import SparkFiles

    path = SparkFiles.get(name)
    if not os.path.exists(path) and os.path.exists(name):
        path = os.path.abspath(name)  # YARN also puts --files in the working directory
    if not os.path.exists(path):
        raise RuntimeError(f"{name} was not shipped to this executor (spark-submit --files)")
    return path


def executable(path, scratch):
    if os.access(path, os.X_OK):
        return path
    try:
        os.chmod(path, 0o755)
        return path
    except OSError:
        copy = os.path.join(scratch, os.path.basename(path))
        shutil.copyfile(path, copy)
        os.chmod(copy, 0o755)
        return copy


def scratch_root(configured):
    if configured:
        return configured
    for var in ("SPARK_LOCAL_DIRS", "LOCAL_DIRS"):
        dirs = [d for d in os.environ.get(var, "").split(",") if d]
        if dirs:
            return dirs[0]
    return tempfile.gettempdir()


def map_task(plan):
    """The function each map partition runs. `plan` holds plain data only. Yields records:
    ("part", name, relative path, bytes), ("map", name, map.json text) per file mapped, and
    ("fail", name, message) for a file permlens could not map."""

    def run(index, items):
        from pyspark import TaskContext

        ctx = TaskContext.get()
        attempt = f"{index:05d}-{ctx.attemptNumber() if ctx else 0}"
        root = tempfile.mkdtemp(prefix=f"permlens-map-{attempt}-", dir=scratch_root(plan["tmp"]))
        try:
            binary = executable(shipped(plan["binary"]), root)
            catalog = shipped(plan["catalog"]) if plan["catalog"] else None
            for n, item in enumerate(items):
                if plan["fetch"] == "spark":
                    # A binaryFile row: the bytes were read by the executor's JVM through
                    # Hadoop's FileSystem; write them where permlens can read them.
                    uri, content = item["path"], item["content"]
                    entries = plan["entries"].value
                    entry = entries.get(uri) or entries.get(unquote(uri))
                    name = entry[0] if entry else uri
                    local = os.path.join(root, f"in-{n}-" + os.path.basename(unquote(uri)))
                    with open(local, "wb") as f:
                        f.write(content)
                    del content, item
                else:
                    uri, name = item  # Hadoop's Path.toString(): not percent-encoded
                    local = re.sub(r"^file:(//)?", "", uri)
                out = os.path.join(root, f"out-{n}")
                # `--name=`: a name may start with `-`.
                cmd = [binary, "map", local, f"--name={name}", f"--out={out}", "--quiet"]
                cmd += ["--threads", str(plan["threads"])]
                if catalog:
                    cmd += ["--catalog", catalog]
                cmd += plan["map_args"]
                started = time.time()
                proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                if plan["fetch"] == "spark":
                    os.remove(local)
                if proc.returncode != 0:
                    err = proc.stderr.decode("utf-8", "replace").strip()
                    yield ("fail", name, f"`permlens map` exit {proc.returncode}: {err[-2000:]}")
                    shutil.rmtree(out, ignore_errors=True)
                    continue
                mapjson = None
                for dirpath, _, files in os.walk(out):
                    for f in sorted(files):
                        full = os.path.join(dirpath, f)
                        rel = os.path.relpath(full, out)
                        if f == "map.json" and dirpath == out:
                            with open(full, encoding="utf-8") as fh:
                                mapjson = fh.read()
                        elif f.endswith(".parquet"):
                            with open(full, "rb") as fh:
                                yield ("part", name, f"{attempt}/{n:05d}/{rel}", fh.read())
                if mapjson is None:
                    yield ("fail", name, "`permlens map` wrote no map.json")
                else:
                    yield ("map", name, mapjson, round(time.time() - started, 3))
                shutil.rmtree(out, ignore_errors=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    return run


def reading_args(args):
    """The options that decide how a line is read: the same for map and analyze."""
    out = []
    for flag, value in (
        ("--log-format", args.log_format),
        ("--user-field", args.user_field),
        ("--timezone", args.timezone),
    ):
        if value:
            out += [flag, value]
    for value in args.field:
        out += ["--field", value]
    for value in args.strip_prefix:
        out += ["--strip-prefix", value]
    return out


def plan_groups(files, per_task, bytes_per_task):
    """Cuts the sorted file list into tasks of at most per_task files and about
    bytes_per_task bytes (a larger file is a task of its own)."""
    groups, current, size = [], [], 0
    for uri, name, length in files:
        if current and (len(current) >= per_task or size + length > bytes_per_task):
            groups.append(current)
            current, size = [], 0
        current.append((uri, name))
        size += length
    if current:
        groups.append(current)
    return groups


def run_map(spark, hadoop, args, files, binary, catalog, stage_local):
    """Runs the map over files; writes the partials it returns under stage_local (the
    driver's disk). Returns (map.json documents, failures)."""
    sc = spark.sparkContext
    local = args.fetch == "local" or (
        args.fetch == "auto" and all(uri.startswith("file:") for uri, _, _ in files)
    )
    threads = args.map_threads or int(sc.getConf().get("spark.task.cpus", "1"))
    map_args = reading_args(args)
    if args.max_bad_ratio:
        map_args += ["--max-bad-ratio", args.max_bad_ratio]
    map_args += args.map_arg
    plan = {
        "binary": binary,
        "catalog": catalog,
        "threads": threads,
        "map_args": map_args,
        "tmp": args.local_tmp,
        "fetch": "local" if local else "spark",
        "entries": None,
    }
    if local:
        groups = plan_groups(files, args.files_per_task, args.bytes_per_task)
        log(f"map: {len(files)} files in {len(groups)} tasks (files read in place)")
        rdd = sc.parallelize(groups, len(groups)).flatMap(lambda g: g)
    else:
        # Spark packs the files into partitions of about maxPartitionBytes, a file costing
        # at least openCostInBytes: so at most ~files-per-task files or bytes-per-task bytes.
        spark.conf.set("spark.sql.files.maxPartitionBytes", str(args.bytes_per_task))
        spark.conf.set(
            "spark.sql.files.openCostInBytes",
            str(max(1, args.bytes_per_task // args.files_per_task)),
        )
        # The names of the files by the paths Spark gives them (as Hadoop prints a path, or
        # percent-encoded), sent once to each executor.
        entries = {}
        for uri, name, _ in files:
            entries[uri] = (name,)
            entries[hadoop.path(uri).toUri().toString()] = (name,)
        plan["entries"] = sc.broadcast(entries)
        escaped = [re.sub(r"([*?\[\]{}\\])", r"\\\1", uri) for uri, _, _ in files]
        df = spark.read.format("binaryFile").load(escaped).select("path", "content")
        rdd = df.rdd
        log(f"map: {len(files)} files in {rdd.getNumPartitions()} tasks (read through Hadoop FS)")
    mapped = rdd.mapPartitionsWithIndex(map_task(plan))
    # Run every task at once (persisted), then bring the partials to the driver one
    # partition at a time: they are aggregates, a small fraction of the logs.
    from pyspark import StorageLevel

    mapped.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        mapped.count()
        documents, failures, parts = [], [], 0
        for record in mapped.toLocalIterator():
            kind = record[0]
            if kind == "part":
                _, name, rel, data = record
                target = os.path.join(stage_local, rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as f:
                    f.write(data)
                parts += 1
            elif kind == "map":
                _, name, text, seconds = record
                try:
                    doc = json.loads(text)
                except ValueError as e:
                    failures.append((name, f"map.json is not JSON: {e}"))
                    continue
                documents.append((name, doc, seconds))
            else:
                failures.append((record[1], record[2]))
    finally:
        mapped.unpersist()
    log(f"map: {len(documents)} files mapped, {parts} partial files, {len(failures)} failed")
    return documents, failures


# ---------------------------------------------------------------------------------------------
# The reduce: Spark SQL


def read_partials(spark, locations):
    reader = (
        spark.read.option("recursiveFileLookup", "true")
        .option("pathGlobFilter", "*.parquet")
        .option("mergeSchema", "true")
    )
    try:
        return reader.parquet(*locations)
    except Exception as e:  # AnalysisException, Py4JJavaError: incompatible files
        raise JobError(f"cannot read the partials {', '.join(locations)}: {first_line(e)}")


def check_partials(df):
    """Refuses partials of another schema version or shape, naming files."""
    from pyspark.sql import functions as F

    if "schema_version" not in df.columns:
        raise JobError(
            "the partials have no schema_version column: partial schema 1 (a --state "
            "directory's) or not permlens partials; this job reads partial schema "
            f"{PARTIAL_SCHEMA_VERSION} (`permlens map` of a version that writes it)"
        )
    bad = (
        df.where(F.col("schema_version").isNull() | (F.col("schema_version") != PARTIAL_SCHEMA_VERSION))
        .select(F.input_file_name().alias("file"), F.col("schema_version").alias("v"))
        .distinct()
        .limit(5)
        .collect()
    )
    if bad:
        shown = "; ".join(
            f"{r['file']}: " + ("no schema_version" if r["v"] is None else f"schema_version {r['v']}")
            for r in bad
        )
        raise JobError(
            f"partials of another schema version ({shown}): this job reads partial schema "
            f"{PARTIAL_SCHEMA_VERSION}; map those logs again with a permlens that writes it"
        )
    missing = [name for name, _ in COLUMNS if name not in df.columns]
    if missing:
        raise JobError(f"the partials lack the columns {', '.join(missing)} of partial schema 2")


def reduce_partials(df):
    """Content dedupe, then one row per key with counts added, times min/max and the three
    earliest samples: the same rows `permlens analyze --partials` would fold them into."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    df = df.select([F.col(f"`{n}`").cast(t).alias(n) for n, t in COLUMNS])

    # A content counted under several (file, run)s: keep the rows of the first of
    # (content_bytes desc, file asc, run asc). Rows without a content pass as they are.
    origins = df.where(F.col("content").isNotNull()).select(
        "content", "file", "run", "content_bytes"
    ).distinct()
    first = Window.partitionBy("content").orderBy(
        F.col("content_bytes").desc_nulls_last(), F.col("file").asc(), F.col("run").asc()
    )
    kept = (
        origins.withColumn("_rank", F.row_number().over(first))
        .where("_rank = 1")
        .select("content", "file", "run")
    )
    deduped = df.join(kept, ["content", "file", "run"], "left_semi").unionByName(
        df.where(F.col("content").isNull())
    )

    # Samples: the offsets and ids of a row, paired as permlens pairs them (empty offsets
    # dropped, then zipped, a pair with a missing side or an offset that is not a number
    # dropped), gathered over the group, distinct, sorted by (offset, id), the first three.
    pairs = F.expr(
        "filter(zip_with(filter(split(sample_offsets, ';'), o -> o != ''), "
        "split(coalesce(sample_request_ids, ''), ';'), "
        "(o, i) -> named_struct('o', try_cast(o AS BIGINT), 'i', i)), "
        "p -> p.o IS NOT NULL AND p.i IS NOT NULL)"
    )
    keys = [n for n, _ in COLUMNS if n not in MEASURES]
    grouped = deduped.groupBy(*keys).agg(
        F.sum("count").alias("count"),
        F.min("first_seen").alias("first_seen"),
        F.max("last_seen").alias("last_seen"),
        F.collect_list(pairs).alias("_pairs"),
        F.count("sample_offsets").alias("_with_samples"),
    )
    samples = F.expr(f"slice(array_sort(array_distinct(flatten(_pairs))), 1, {SAMPLES_KEPT})")
    grouped = grouped.withColumn("_samples", samples)
    has = F.col("_with_samples") > 0
    grouped = grouped.withColumn(
        "sample_offsets",
        F.when(has, F.expr("array_join(transform(_samples, p -> CAST(p.o AS STRING)), ';')")),
    ).withColumn(
        "sample_request_ids",
        F.when(has, F.expr("array_join(transform(_samples, p -> p.i), ';')")),
    )
    return grouped.select([F.col(f"`{n}`").cast(t).alias(n) for n, t in COLUMNS])


# ---------------------------------------------------------------------------------------------
# The driver


def first_line(e):
    text = str(e).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("Traceback"):
            return line[:2000]
    return text[:2000]


def sum_totals(documents):
    """map.json totals added up (numbers only), and the files' entries."""
    totals, files = {}, []

    def add(into, values):
        for k, v in values.items():
            if isinstance(v, bool):
                continue
            if isinstance(v, (int, float)):
                into[k] = into.get(k, 0) + v
            elif isinstance(v, dict):
                add(into.setdefault(k, {}), v)

    malformed = []
    for name, doc, seconds in documents:
        add(totals, doc.get("totals") or {})
        for f in doc.get("files") or []:
            entry = dict(f)
            entry["map_seconds"] = seconds
            files.append(entry)
        malformed += doc.get("malformed_samples") or []
    return totals, files, malformed[:100]


def ship(sc, hadoop, location, what):
    """Makes a local file or URI available to every executor (SparkContext.addFile) and
    returns the name SparkFiles.get finds it under. A bare name that is not a file here is
    taken as shipped already (spark-submit --files)."""
    name = os.path.basename(location.rstrip("/"))
    conf = sc.getConf()
    already = [
        os.path.basename(f.split("#")[-1])
        for key in ("spark.files", "spark.yarn.dist.files")
        for f in (conf.get(key, "") or "").split(",")
        if f
    ]
    if name in already:
        return name

    def add(path):
        try:
            sc.addFile(path)
        except Exception as e:
            raise JobError(f"cannot ship {what} {path} to the executors: {first_line(e)}")

    if "://" in location or location.startswith("file:") or os.path.isfile(location):
        add(location)
        return name
    if what == "permlens" and "/" not in location:
        found = shutil.which(location)
        if found:
            add(found)
            return os.path.basename(found)
    raise JobError(
        f"{what} {location}: no such file here, and not shipped with spark-submit --files"
    )


def on_driver(sc, hadoop, name, scratch):
    """A shipped file's local path on the driver. SparkFiles has it after addFile; a file
    given to spark-submit --files on YARN in client mode is only in the containers' working
    directories, so then the file is taken from where --files named it."""
    try:
        return shipped(name)
    except RuntimeError:
        pass
    conf = sc.getConf()
    for key in ("spark.files", "spark.yarn.dist.files"):
        for entry in (conf.get(key, "") or "").split(","):
            source = entry.split("#")[0]
            if not source or os.path.basename(entry.split("#")[-1]) != name:
                continue
            local = driver_path(source)
            if local is not None and os.path.exists(local):
                return local
            copy = os.path.join(scratch, "driver-files", name)
            os.makedirs(os.path.dirname(copy), exist_ok=True)
            hadoop.get(source, copy)
            return copy
    raise JobError(f"{name} is not on the driver: give --permlens a local path or a URI")


def driver_path(location):
    """The local path of a driver-side location (snapshot, report): a path without a scheme
    or a file: URI; None for a URI of another scheme."""
    if location.startswith("file:"):
        return re.sub(r"^file:(//)?", "", location)
    if "://" in location:
        return None
    return os.path.abspath(location)


def run_analyze(args, binary, partials_local, report_local, snapshots, catalog):
    cmd = [binary, "analyze", "--partials", partials_local, "--out", report_local]
    for s in snapshots:
        cmd += ["-p", s]
    if catalog:
        cmd += ["--catalog", catalog]
    cmd += reading_args(args)
    for flag, value in (
        ("--since", args.since),
        ("--until", args.until),
        ("--window", args.window),
        ("--min-days", args.min_days),
        ("--fail-on", args.fail_on),
        ("--format", args.format),
    ):
        if value:
            cmd += [flag, value]
    cmd += args.analyze_arg
    log("judge: " + " ".join(cmd))
    sys.stdout.flush()
    return subprocess.run(cmd).returncode


def main(argv=None):
    args = arguments(sys.argv[1:] if argv is None else argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("permlens").getOrCreate()
    try:
        return job(spark, args)
    except JobError as e:
        log(f"error: {e}")
        return 2
    except Exception as e:  # Spark's or the JVM's: the trace for a bug report, then one line
        traceback.print_exc()
        log(f"error: {first_line(e)}")
        return 2
    finally:
        spark.stop()


def job(spark, args):
    sc = spark.sparkContext
    sc.setLogLevel("WARN")
    # Times are instants in UTC; Parquet timestamps as INT64 microseconds, as the partial
    # schema says (Spark's default, INT96, is deprecated in Parquet and not every reader of
    # the reduced partials takes it).
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    spark.conf.set("spark.sql.parquet.datetimeRebaseModeInWrite", "CORRECTED")
    spark.conf.set("spark.sql.parquet.int96RebaseModeInWrite", "CORRECTED")
    hadoop = Hadoop(sc)

    out = args.out.rstrip("/")
    partials_out = f"{out}/partials"
    stage = f"{out}/_map"
    # The report: a path without a scheme is on the driver's machine; the default follows
    # OUT (which, without a scheme, is on Hadoop's default file system, as Spark reads paths).
    if args.report:
        report = args.report
        report_on_driver = driver_path(report)
    else:
        report = f"{out}/report"
        report_on_driver = hadoop.local_path(report) if hadoop.is_local(report) else None
    # Driver-side inputs are checked before the map, not after it.
    if not args.no_analyze:
        for s in args.policies:
            local = driver_path(s)
            if local is not None and not os.path.exists(local):
                raise JobError(f"snapshot {s}: no such file or directory on the driver")
            if local is None and not hadoop.exists(s):
                raise JobError(f"snapshot {s}: not found")
    run_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    scratch = tempfile.mkdtemp(prefix="permlens-spark-", dir=scratch_root(args.local_tmp))
    try:
        binary = ship(sc, hadoop, args.permlens, "permlens")
        catalog = ship(sc, hadoop, args.catalog, "catalog") if args.catalog else None
        driver_binary = executable(on_driver(sc, hadoop, binary, scratch), scratch)
        driver_catalog = on_driver(sc, hadoop, catalog, scratch) if catalog else None

        # Inputs
        files, seen = [], set()
        for location in args.logs:
            for uri, name, length in hadoop.list_files(location):
                if uri not in seen:
                    seen.add(uri)
                    files.append((uri, name, length))
        if args.logs and not files:
            raise JobError(f"no log files in {', '.join(args.logs)}")
        files.sort(key=lambda f: f[1])
        total = sum(f[2] for f in files)
        if files:
            log(f"inputs: {len(files)} files, {total} bytes")

        # Map
        hadoop.delete(stage)
        documents, failures = [], []
        sources = list(args.partials)
        if files:
            stage_local = os.path.join(scratch, "map")
            os.makedirs(stage_local)
            try:
                documents, failures = run_map(
                    spark, hadoop, args, files, binary, catalog, stage_local
                )
            except JobError:
                raise
            except Exception as e:
                raise JobError(f"the map stage failed: {first_line(e)}")
            if failures:
                shown = "\n".join(f"  {name}: {msg}" for name, msg in failures[:20])
                more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
                raise JobError(
                    f"{len(failures)} of {len(files)} files could not be mapped; nothing was "
                    f"reduced or judged:\n{shown}{more}"
                )
            missing = set(n for _, n, _ in files) - set(n for n, _, _ in documents)
            if missing:
                raise JobError(
                    f"{len(missing)} files came back unmapped (e.g. {sorted(missing)[0]})"
                )
            stage_run = f"{stage}/{run_id}"
            if hadoop.is_local(stage_run):
                target = hadoop.local_path(stage_run)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.move(stage_local, target)
            else:
                hadoop.put(stage_local, stage_run)
            sources.insert(0, stage_run)

        # Reduce
        df = read_partials(spark, sources)
        check_partials(df)
        reduced = reduce_partials(df)
        if args.reduce_files:
            reduced = reduced.repartition(args.reduce_files)
        # Written beside OUT/partials, then swapped in: the inputs may include an earlier
        # OUT/partials (--partials), and a failed write leaves the old one as it was.
        staged = f"{out}/_partials-{run_id}"
        try:
            reduced.write.mode("overwrite").parquet(staged)
        except Exception as e:
            hadoop.delete(staged)
            raise JobError(f"the reduce failed: {first_line(e)}")
        hadoop.replace(staged, partials_out)
        rows = spark.read.parquet(partials_out).count()
        log(f"reduce: {rows} rows in {partials_out}")

        # What the map read
        totals, entries, malformed = sum_totals(documents)
        summary = {
            "schema_version": PARTIAL_SCHEMA_VERSION,
            "run": run_id,
            "inputs": args.logs,
            "partials": args.partials,
            "files_mapped": len(documents),
            "bytes_listed": total,
            "reduced_rows": rows,
            "totals": totals,
            "files": entries,
            "malformed_samples": malformed,
        }
        local_summary = os.path.join(scratch, "map-summary.json")
        with open(local_summary, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
        if hadoop.is_local(out):
            shutil.copyfile(local_summary, os.path.join(hadoop.local_path(out), "map-summary.json"))
        else:
            hadoop.put(local_summary, f"{out}/map-summary.json")
        if not args.keep_map_output:
            hadoop.delete(stage)

        if args.no_analyze:
            return 0

        # Judge, on the driver
        if hadoop.is_local(partials_out):
            partials_local = hadoop.local_path(partials_out)
        else:
            partials_local = os.path.join(scratch, "partials")
            hadoop.get(partials_out, partials_local)
        snapshots = []
        for i, s in enumerate(args.policies):
            local = driver_path(s)
            if local is None:
                local = os.path.join(scratch, f"snapshot-{i}", os.path.basename(s.rstrip("/")))
                os.makedirs(os.path.dirname(local))
                hadoop.get(s, local)
            snapshots.append(local)
        report_local = report_on_driver or os.path.join(scratch, "report")
        code = run_analyze(args, driver_binary, partials_local, report_local, snapshots, driver_catalog)
        if code not in (0, 1):
            raise JobError(f"`permlens analyze --partials` failed (exit {code}); see above")
        if not report_on_driver:
            if hadoop.exists(report) and not hadoop.exists(f"{report}/summary.json"):
                fs, q = hadoop.qualified(report)
                if len(fs.listStatus(q)) > 0:
                    raise JobError(
                        f"{report} exists and is not a report (no summary.json): not replaced"
                    )
            hadoop.put(report_local, report)
        log(f"report: {report}")
        return code
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
