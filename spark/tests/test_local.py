"""The Spark job end to end in local mode (`spark-submit --master local[2]`): generated logs
split into many files (by day, one gzipped, one copied to a second "shard"), mapped by
permlens on the executors, reduced by Spark SQL and judged on the driver, give the report a
single-machine `permlens analyze` of the same logs (without the copy) gives: every Parquet
table as values, the policies, and summary.json's findings. Also: a map that fails and
partials of another schema version fail the job with a clear message.

Needs Java, pyspark (tools/install-spark.sh) and cargo (the binary is built when missing:
$CARGO_TARGET_DIR/release/permlens, or debug/ with PERMLENS_SPARK_PROFILE=debug)."""

import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
JOB = os.path.join(REPO, "spark", "permlens_spark.py")
sys.path.insert(0, HERE)

from sparksession import session  # noqa: E402


def permlens_binary():
    """This checkout's binary, built by cargo (quick when nothing changed; a stale binary
    would test another permlens). PERMLENS_SPARK_PROFILE=debug uses the debug build (what
    `cargo test` just built, in CI), release otherwise; PERMLENS_BIN names a binary instead."""
    if os.environ.get("PERMLENS_BIN"):
        return os.environ["PERMLENS_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    profile = os.environ.get("PERMLENS_SPARK_PROFILE", "release")
    cmd = ["cargo", "build", "--locked", "--quiet"]
    if profile == "release":
        cmd.append("--release")
    elif profile != "debug":
        raise ValueError(f"PERMLENS_SPARK_PROFILE={profile}: release or debug")
    subprocess.run(cmd, cwd=REPO, check=True)
    return os.path.join(target, profile, "permlens")


def spark_submit():
    found = shutil.which("spark-submit")
    if found:
        return [found]
    import pyspark

    return [os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")]


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def job(args, tmp):
    """Runs the Spark job; returns the CompletedProcess (stdout, stderr as text)."""
    cmd = spark_submit() + [
        "--master", "local[2]",
        "--driver-memory", "1g",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.ui.showConsoleProgress=false",
        "--conf", "spark.sql.shuffle.partitions=4",
        "--conf", f"spark.local.dir={tmp}/spark-local",
        JOB,
    ] + args
    return run(cmd, env=dict(os.environ, TZ="UTC"))


def messages(result):
    """The job's own lines (Spark's log lines left out). spark-submit runs the Python driver
    with its stderr sent to the JVM's stdout: look at both."""
    text = result.stdout + "\n" + result.stderr
    return "\n".join(
        l for l in text.splitlines() if l.startswith("permlens-spark:") or l.startswith("  ")
    )


class LocalModeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="permlens-spark-test-")
        tmp = cls.tmp
        # Shipped as a cluster would get it: stripped (a tenth of the size to copy).
        cls.bin = os.path.join(tmp, "permlens")
        built = permlens_binary()
        if shutil.which("strip"):
            subprocess.run(["strip", "-o", cls.bin, built], check=True)
        else:
            shutil.copyfile(built, cls.bin)
            os.chmod(cls.bin, 0o755)
        cls.snapshot = os.path.join(tmp, "snapshot.json")
        whole = os.path.join(tmp, "all.jsonl")
        subprocess.run(
            [cls.bin, "generate", "--format", "json", "--size", "40MiB", "--users", "50",
             "--seed", "7", "--days", "7", "--out", whole, "--snapshot", cls.snapshot],
            check=True, stdout=subprocess.DEVNULL,
        )
        # Split by day: 9 files under logs/a (the first day in two, the last one gzipped),
        # a copy of one of them under logs/b (a second shard holding the same content), and
        # files Spark and permlens skip (hidden, `_`-prefixed) holding garbage.
        cls.logs = os.path.join(tmp, "logs")
        shard_a, shard_b = os.path.join(cls.logs, "a"), os.path.join(cls.logs, "b")
        os.makedirs(shard_a)
        os.makedirs(shard_b)
        days = {}
        with open(whole, "rb") as f:
            for line in f:
                day = re.search(rb'"@timestamp":"(\d{4}-\d\d-\d\d)', line).group(1).decode()
                days.setdefault(day, []).append(line)
        names = sorted(days)
        assert len(names) >= 7, names
        for i, day in enumerate(names):
            data = b"".join(days[day])
            if i == len(names) - 1:
                with gzip.open(os.path.join(shard_a, f"{day}.jsonl.gz"), "wb") as f:
                    f.write(data)
            elif i == 0:
                # The first day in two files cut mid-hour: rows of one hour from two files.
                half = len(days[day]) // 2
                for part, lines in (("1", days[day][:half]), ("2", days[day][half:])):
                    with open(os.path.join(shard_a, f"{day}-{part}.jsonl"), "wb") as f:
                        f.write(b"".join(lines))
            else:
                with open(os.path.join(shard_a, f"{day}.jsonl"), "wb") as f:
                    f.write(data)
        cls.copied = f"{names[2]}.jsonl"
        shutil.copyfile(os.path.join(shard_a, cls.copied), os.path.join(shard_b, cls.copied))
        for junk in (os.path.join(cls.logs, "_SUCCESS"), os.path.join(shard_a, ".partial.jsonl")):
            with open(junk, "w") as f:
                f.write("this is not a log line\n" * 10)
        os.remove(whole)
        cls.files = len(names) + 2  # the first day in two, and the copy

        # One machine, the same files without the copy.
        cls.plain = os.path.join(tmp, "plain")
        p = run([cls.bin, "analyze", shard_a, "-p", cls.snapshot, "-q", "-o", cls.plain])
        assert p.returncode in (0, 1), p.stderr

        # The Spark job over everything, a few files per task.
        cls.out = os.path.join(tmp, "out")
        cls.result = job(
            [cls.logs, "-p", cls.snapshot, "-o", cls.out, "--permlens", cls.bin,
             "--files-per-task", "3"],
            tmp,
        )
        cls.spark = session()

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("PERMLENS_SPARK_KEEP"):
            print(f"kept {cls.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- comparison helpers -------------------------------------------------------------------

    def frame(self, path):
        from pyspark.sql import functions as F
        from pyspark.sql.types import MapType

        df = self.spark.read.parquet(path)
        # Maps are not comparable in Spark: compare their sorted entries.
        return df.select([
            F.array_sort(F.map_entries(F.col(f"`{f.name}`"))).alias(f.name)
            if isinstance(f.dataType, MapType) else F.col(f"`{f.name}`")
            for f in df.schema.fields
        ])

    def assert_same_tables(self, a, b):
        """Every Parquet table of report a equals b's: the same files, columns, types, and
        rows as a multiset. Returns how many tables and rows were compared."""
        ta = sorted(os.path.relpath(p, a) for p in glob.glob(f"{a}/**/*.parquet", recursive=True))
        tb = sorted(os.path.relpath(p, b) for p in glob.glob(f"{b}/**/*.parquet", recursive=True))
        self.assertEqual(ta, tb, "the reports hold other tables")
        self.assertGreaterEqual(len(ta), 8, f"a report with its tables: {ta}")
        rows, counts = 0, []
        for name in ta:
            da, db = self.frame(os.path.join(a, name)), self.frame(os.path.join(b, name))
            self.assertEqual(da.dtypes, db.dtypes, f"{name}: columns or types differ")
            na, nb = da.count(), db.count()
            only_a = da.exceptAll(db).limit(5).collect()
            only_b = db.exceptAll(da).limit(5).collect()
            self.assertTrue(
                na == nb and not only_a and not only_b,
                f"{name} differs: {na} vs {nb} rows; only in {a}: {only_a}; only in {b}: {only_b}",
            )
            rows += na
            counts.append(f"{name} {na}")
        # Most tables hold rows: a comparison of empty tables would prove little.
        self.assertGreaterEqual(sum(1 for c in counts if not c.endswith(" 0")), len(ta) // 2, counts)
        self.counts = counts
        return len(ta), rows

    def assert_same_policies(self, a, b):
        pa = sorted(os.path.relpath(p, a) for p in glob.glob(f"{a}/policies/*.json"))
        pb = sorted(os.path.relpath(p, b) for p in glob.glob(f"{b}/policies/*.json"))
        self.assertEqual(pa, pb)
        for name in pa:
            with open(os.path.join(a, name)) as fa, open(os.path.join(b, name)) as fb:
                self.assertEqual(json.load(fa), json.load(fb), name)
        return len(pa)

    def summary(self, report):
        with open(os.path.join(report, "summary.json")) as f:
            return json.load(f)

    # -- tests ---------------------------------------------------------------------------------

    def test_job_succeeds(self):
        r = self.result
        self.assertIn(r.returncode, (0, 1), f"{r.stdout}\n{r.stderr[-5000:]}")
        self.assertTrue(os.path.exists(os.path.join(self.out, "report", "summary.json")))
        self.assertFalse(os.path.exists(os.path.join(self.out, "_map")), "staging left behind")

    def test_report_equals_single_machine(self):
        self.assertIn(self.result.returncode, (0, 1), self.result.stderr[-5000:])
        tables, rows = self.assert_same_tables(self.plain, os.path.join(self.out, "report"))
        self.assertGreater(rows, 0)
        policies = self.assert_same_policies(self.plain, os.path.join(self.out, "report"))
        print(f"\n  compared {tables} tables ({rows} rows: {', '.join(self.counts)}) and "
              f"{policies} policies", file=sys.stderr)

    def test_summary_findings_equal_single_machine(self):
        self.assertIn(self.result.returncode, (0, 1), self.result.stderr[-5000:])
        a, b = self.summary(self.plain), self.summary(os.path.join(self.out, "report"))
        self.assertTrue(a["findings"], "findings to compare")
        self.assertEqual(a["findings"], b["findings"])
        for key in ("bss_requests", "unmatched_requests"):
            self.assertEqual(a["inputs"][key], b["inputs"][key], key)
        self.assertGreater(a["inputs"]["bss_requests"], 0)

    def test_map_summary_and_dedupe(self):
        self.assertIn(self.result.returncode, (0, 1), self.result.stderr[-5000:])
        with open(os.path.join(self.out, "map-summary.json")) as f:
            s = json.load(f)
        self.assertEqual(s["schema_version"], 2)
        self.assertEqual(s["files_mapped"], self.files)
        names = sorted(e["file"] for e in s["files"])
        self.assertEqual(len(names), self.files)
        self.assertIn(os.path.join(self.logs, "b", self.copied), names)
        self.assertFalse([n for n in names if "/_" in n or "/." in n], names)
        self.assertGreater(s["totals"]["bss_requests"], 0)
        # The copy was mapped but counted once: the reduced partials name only shard a.
        from pyspark.sql import functions as F

        files = {
            r[0] for r in self.spark.read.parquet(os.path.join(self.out, "partials"))
            .select("file").distinct().collect()
        }
        self.assertEqual(len(files), self.files - 1)
        self.assertTrue(all(f.startswith(os.path.join(self.logs, "a") + "/") for f in files), files)
        plain_bss = self.summary(self.plain)["inputs"]["bss_requests"]
        self.assertGreater(s["totals"]["bss_requests"], plain_bss)  # the copy was read too
        reduced = self.spark.read.parquet(os.path.join(self.out, "partials"))
        self.assertEqual(reduced.where("kind = 'usage'").agg(F.sum("count")).first()[0], plain_bss)

    def test_reduced_partials_schema(self):
        self.assertIn(self.result.returncode, (0, 1), self.result.stderr[-5000:])
        sys.path.insert(0, os.path.dirname(JOB))
        import permlens_spark

        df = self.spark.read.parquet(os.path.join(self.out, "partials"))
        self.assertEqual(df.dtypes, [(n, t) for n, t in permlens_spark.COLUMNS])
        # INT64 microseconds as the schema says, not Spark's default INT96 (which other readers
        # of the reduced partials may not take).
        from parquet_footer import physical_types

        parts = glob.glob(os.path.join(self.out, "partials", "*.parquet"))
        self.assertTrue(parts)
        for part in parts:
            types = physical_types(part)
            for column in ("hour", "first_seen", "last_seen", "count", "content_bytes"):
                self.assertEqual(types[column], "INT64", f"{part}: {column}")
            self.assertEqual(types["status"], "INT32")

    def test_fetch_through_hadoop_fs(self):
        """The executors read the files through Hadoop's FileSystem (as for HDFS/OBS/S3
        inputs): the same report."""
        out = os.path.join(self.tmp, "out-fetch")
        r = job(
            [self.logs, "-p", self.snapshot, "-o", out, "--permlens", self.bin,
             "--fetch", "spark", "--bytes-per-task", "12MiB", "--report",
             os.path.join(self.tmp, "report-fetch")],
            self.tmp,
        )
        self.assertIn(r.returncode, (0, 1), f"{r.stdout}\n{r.stderr[-5000:]}")
        self.assertIn("read through Hadoop FS", messages(r))
        self.assert_same_tables(self.plain, os.path.join(self.tmp, "report-fetch"))

    def test_a_failed_map_fails_the_job(self):
        logs = os.path.join(self.tmp, "bad-logs")
        os.makedirs(logs)
        shutil.copyfile(os.path.join(self.logs, "a", self.copied), os.path.join(logs, "good.jsonl"))
        with open(os.path.join(logs, "broken.jsonl"), "w") as f:
            f.write("not a log line at all\n" * 100)
        out = os.path.join(self.tmp, "out-bad")
        r = job([logs, "-p", self.snapshot, "-o", out, "--permlens", self.bin], self.tmp)
        self.assertEqual(r.returncode, 2, f"{r.stdout}\n{r.stderr[-5000:]}")
        said = messages(r)
        self.assertIn("1 of 2 files could not be mapped", said)
        self.assertIn(os.path.join(logs, "broken.jsonl"), said)
        self.assertIn("`permlens map` exit 2", said)
        self.assertFalse(os.path.exists(os.path.join(out, "partials")))
        self.assertFalse(os.path.exists(os.path.join(out, "report")))

    def test_a_missing_snapshot_fails_before_the_map(self):
        out = os.path.join(self.tmp, "out-nosnap")
        missing = os.path.join(self.tmp, "no-such-snapshot.json")
        r = job([self.logs, "-p", missing, "-o", out, "--permlens", self.bin], self.tmp)
        self.assertEqual(r.returncode, 2, f"{r.stdout}\n{r.stderr[-5000:]}")
        said = messages(r)
        self.assertIn(f"snapshot {missing}: no such file or directory on the driver", said)
        self.assertNotIn("map:", said)
        self.assertFalse(os.path.exists(os.path.join(out, "partials")))

    def test_another_schema_version_is_refused(self):
        """Partials of another schema version: the job refuses them naming the file and the
        version, and so does `permlens analyze --partials`."""
        self.assertIn(self.result.returncode, (0, 1), self.result.stderr[-5000:])
        from pyspark.sql import functions as F

        bad = os.path.join(self.tmp, "partials-v3")
        self.spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        (self.spark.read.parquet(os.path.join(self.out, "partials")).limit(50)
         .withColumn("schema_version", F.lit(3).cast("int"))
         .coalesce(1).write.mode("overwrite").parquet(bad))
        out = os.path.join(self.tmp, "out-v3")
        r = job(["--partials", bad, "-p", self.snapshot, "-o", out, "--permlens", self.bin],
                self.tmp)
        self.assertEqual(r.returncode, 2, f"{r.stdout}\n{r.stderr[-5000:]}")
        said = messages(r)
        self.assertIn("schema_version 3", said)
        self.assertIn("this job reads partial schema 2", said)
        self.assertIn(bad, said)
        self.assertFalse(os.path.exists(os.path.join(out, "report")))
        a = run([self.bin, "analyze", "--partials", bad, "-p", self.snapshot, "-q", "-o",
                 os.path.join(self.tmp, "report-v3")])
        self.assertEqual(a.returncode, 2, a.stderr)
        self.assertIn("schema_version 3", a.stderr)
        self.assertIn("partial schema 2", a.stderr)

    def test_reduced_partials_are_judged_again_the_same(self):
        """OUT/partials given back to the job (no logs) reduce to themselves: the same
        report (the reduce is idempotent)."""
        self.assertIn(self.result.returncode, (0, 1), self.result.stderr[-5000:])
        out = os.path.join(self.tmp, "out-again")
        r = job(["--partials", os.path.join(self.out, "partials"), "-p", self.snapshot,
                 "-o", out, "--permlens", self.bin], self.tmp)
        self.assertIn(r.returncode, (0, 1), f"{r.stdout}\n{r.stderr[-5000:]}")
        self.assert_same_tables(self.plain, os.path.join(out, "report"))


if __name__ == "__main__":
    unittest.main()
