"""The Spark SQL reduce of spark/permlens_spark.py on hand-made partial rows: the content
dedupe, the sums, the samples, the schema, idempotence, and the refusal of other schema
versions. Needs pyspark and Java only."""

import datetime
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import permlens_spark as job  # noqa: E402
from sparksession import session  # noqa: E402

UTC = datetime.timezone.utc
SCHEMA = ", ".join(f"`{n}` {t}" for n, t in job.COLUMNS)


def t(hour, minute=0):
    return datetime.datetime(2026, 11, 20, hour, minute, tzinfo=UTC)


def row(**kw):
    """A partial row with defaults; kw overrides columns."""
    base = dict(
        schema_version=2,
        config="cfg",
        run="r1",
        file="logs/a.jsonl",
        content="c-a",
        content_bytes=100,
        kind="usage",
        user="alice",
        user_id="u-alice",
        method="GET",
        route="/v2/orders",
        path_shape=None,
        status=200,
        error_code="",
        response_source="",
        source_ip="10.0.0.1",
        hour=t(1),
        count=1,
        first_seen=t(1, 5),
        last_seen=t(1, 5),
        sample_offsets="10",
        sample_request_ids="q10",
    )
    base.update(kw)
    return tuple(base[n] for n, _ in job.COLUMNS)


class ReduceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.spark = session()

    def frame(self, rows):
        return self.spark.createDataFrame(rows, SCHEMA)

    def reduce(self, rows):
        return self.frame_reduce(self.frame(rows))

    def frame_reduce(self, df):
        out = job.reduce_partials(df)
        return sorted((r.asDict() for r in out.collect()), key=lambda r: repr(sorted(r.items())))

    def test_rows_of_a_key_are_added_up(self):
        got = self.reduce(
            [
                row(count=2, first_seen=t(1, 7), last_seen=t(1, 9), sample_offsets="30;50",
                    sample_request_ids="q30;q50"),
                row(count=3, first_seen=t(1, 2), last_seen=t(1, 8), sample_offsets="20;40;60",
                    sample_request_ids="q20;q40;q60"),
                row(count=1, first_seen=t(1, 5), last_seen=t(1, 5), sample_offsets="1000",
                    sample_request_ids="q1000"),
            ]
        )
        self.assertEqual(len(got), 1)
        r = got[0]
        self.assertEqual(r["count"], 6)
        # collect() gives naive times in the process's zone, UTC here (sparksession.py).
        self.assertEqual(r["first_seen"], t(1, 2).replace(tzinfo=None))
        self.assertEqual(r["last_seen"], t(1, 9).replace(tzinfo=None))
        # Numerically smallest, not as text ("1000" < "20" as text).
        self.assertEqual(r["sample_offsets"], "20;30;40")
        self.assertEqual(r["sample_request_ids"], "q20;q30;q40")

    def test_every_other_column_is_the_key(self):
        base = dict(count=1)
        rows = [
            row(**base),
            row(status=403, **base),
            row(status=None, **base),
            row(hour=t(2), **base),
            row(source_ip="10.0.0.2", **base),
            row(kind="unmatched", route=None, path_shape="/v2/{id}", user="", user_id="",
                first_seen=None, last_seen=None, **base),
            row(user_id="u-other", **base),
            row(file="logs/b.jsonl", content="c-b", **base),
        ]
        got = self.reduce(rows + [row(**base)])
        self.assertEqual(len(got), len(rows))
        self.assertEqual(sum(r["count"] for r in got), len(rows) + 1)

    def test_content_counted_twice_is_kept_once(self):
        # The same content under two files and runs: the longer count wins, then file, then run.
        rows = [
            row(file="shard-b/x.jsonl", run="r2", content="c", content_bytes=200, count=5),
            row(file="shard-a/x.jsonl", run="r1", content="c", content_bytes=100, count=3),
            row(file="shard-c/x.jsonl", run="r3", content="c", content_bytes=200, count=7,
                sample_offsets="5", sample_request_ids="q5"),
            row(file="shard-b/x.jsonl", run="r0", content="c", content_bytes=200, count=11),
        ]
        got = self.reduce(rows)
        self.assertEqual([(r["file"], r["run"], r["count"]) for r in got],
                         [("shard-b/x.jsonl", "r0", 11)])

    def test_rows_without_content_pass(self):
        rows = [
            row(file="a", content=None, count=2),
            row(file="a", content=None, count=3),
            row(file="b", content=None, count=4),
        ]
        got = self.reduce(rows)
        self.assertEqual(sorted((r["file"], r["count"]) for r in got), [("a", 5), ("b", 4)])

    def test_samples_absent_or_empty(self):
        got = self.reduce([row(sample_offsets=None, sample_request_ids=None)])
        self.assertIsNone(got[0]["sample_offsets"])
        got = self.reduce([row(sample_offsets="", sample_request_ids=""), row()])
        self.assertEqual((got[0]["sample_offsets"], got[0]["sample_request_ids"]), ("10", "q10"))
        got = self.reduce([row(sample_offsets="", sample_request_ids="")])
        self.assertEqual((got[0]["sample_offsets"], got[0]["sample_request_ids"]), ("", ""))
        # An empty request id keeps its place.
        got = self.reduce([row(sample_offsets="7;9", sample_request_ids=";q9"), row()])
        self.assertEqual((got[0]["sample_offsets"], got[0]["sample_request_ids"]),
                         ("7;9;10", ";q9;q10"))
        # The same sample twice (a partial given twice) is kept once.
        got = self.reduce([row(), row()])
        self.assertEqual((got[0]["count"], got[0]["sample_offsets"]), (2, "10"))

    def test_schema_is_kept_and_reduce_is_idempotent(self):
        rows = [row(count=i, hour=t(i % 3), sample_offsets=str(i), sample_request_ids=f"q{i}")
                for i in range(1, 20)]
        once = job.reduce_partials(self.frame(rows))
        self.assertEqual([(f.name, f.dataType.simpleString()) for f in once.schema.fields],
                         [(n, "timestamp" if ty == "timestamp" else ty) for n, ty in job.COLUMNS])
        twice = job.reduce_partials(once)
        self.assertEqual(sorted(map(tuple, once.collect())), sorted(map(tuple, twice.collect())))

    def test_other_types_are_cast_to_the_schema(self):
        # An engine may write count as decimal (unsigned 64-bit) and status as a long.
        df = self.frame([row(count=4)]).selectExpr(
            *[f"CAST(`{n}` AS decimal(20,0)) AS `{n}`" if n == "count" else
              f"CAST(`{n}` AS bigint) AS `{n}`" if n == "status" else f"`{n}`"
              for n, _ in job.COLUMNS])
        got = job.reduce_partials(df)
        self.assertEqual(dict(got.dtypes)["count"], "bigint")
        self.assertEqual(dict(got.dtypes)["status"], "int")
        self.assertEqual(got.collect()[0]["count"], 4)


class CheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.spark = session()
        cls.tmp = tempfile.mkdtemp(prefix="permlens-spark-check-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, df):
        path = os.path.join(self.tmp, name)
        self.spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        df.write.mode("overwrite").parquet(path)
        return path

    def test_schema_2_passes(self):
        path = self.write("v2", self.spark.createDataFrame([row()], SCHEMA))
        job.check_partials(job.read_partials(self.spark, [path]))

    def test_another_version_is_refused_naming_the_file(self):
        good = self.write("mixed/good", self.spark.createDataFrame([row()], SCHEMA))
        self.write("mixed/old", self.spark.createDataFrame([row(schema_version=3)], SCHEMA))
        with self.assertRaises(job.JobError) as e:
            job.check_partials(job.read_partials(self.spark, [os.path.dirname(good)]))
        self.assertIn("schema_version 3", str(e.exception))
        self.assertIn("mixed/old", str(e.exception))
        self.assertIn("partial schema 2", str(e.exception))

    def test_a_state_partial_is_refused(self):
        # Schema 1 (a --state directory's partial): no provenance, no schema_version column.
        df = self.spark.createDataFrame([row()], SCHEMA).drop(
            "schema_version", "config", "run", "file", "content", "content_bytes")
        path = self.write("v1", df)
        with self.assertRaises(job.JobError) as e:
            job.check_partials(job.read_partials(self.spark, [path]))
        self.assertIn("no schema_version column", str(e.exception))


if __name__ == "__main__":
    unittest.main()
