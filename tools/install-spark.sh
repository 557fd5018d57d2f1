#!/usr/bin/env bash
# Installs what the Spark job's local-mode test needs (spark/README.md): a Java runtime
# (Debian's openjdk-17-jre-headless) and the pyspark package (which brings Spark itself and py4j).
# Idempotent: what is already there is left alone, so it is cheap to run again.
#
#   tools/install-spark.sh            # as root (apt-get), or with sudo available
#   PYTHON=python3.11 tools/install-spark.sh
set -euo pipefail

PYTHON="${PYTHON:-python3}"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Java: Spark 3.5/4.x run on Java 17; any java on the PATH that reports 17 or later will do.
java_major() {
    java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n1
}
if command -v java >/dev/null 2>&1 && [ "$(java_major)" -ge 17 ] 2>/dev/null; then
    echo "java: $(java -version 2>&1 | head -n1) (already installed)"
else
    echo "java: installing openjdk-17-jre-headless"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless
    java -version 2>&1 | head -n1
fi

# pyspark: the pip package carries Spark's jars and bin/spark-submit.
if "$PYTHON" -c 'import pyspark' >/dev/null 2>&1; then
    echo "pyspark: $("$PYTHON" -c 'import pyspark; print(pyspark.__version__)') (already installed)"
else
    echo "pyspark: installing with $PYTHON -m pip"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check pyspark
    echo "pyspark: $("$PYTHON" -c 'import pyspark; print(pyspark.__version__)')"
fi

# spark-submit comes with the package; say where, for a shell without it on the PATH.
if ! command -v spark-submit >/dev/null 2>&1; then
    home="$("$PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
    echo "spark-submit: $home/bin/spark-submit (not on PATH)"
else
    echo "spark-submit: $(command -v spark-submit)"
fi
