"""One local Spark session shared by the test modules (starting one takes ~20 s)."""


import os
import time


def session():
    from pyspark.sql import SparkSession

    # Python-side times (collect()) are naive in the process's zone: make it UTC.
    os.environ["TZ"] = "UTC"
    time.tzset()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("permlens-spark-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark
