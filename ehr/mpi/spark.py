"""Splink's Spark backend for populations that outgrow one machine (optional: ``pip install .[spark]``).

The batch linkage takes any Splink database API; with Spark the same settings and model run as
Spark SQL::

    spark = local_spark_session()            # or the cluster's session, with similarity_jar_location()
    result = link_records(engine.settings, engine.model, records, db_api=spark_db_api(spark))

Splink needs its similarity UDF jar on the session (``spark.jars``) for Jaro-Winkler and
Damerau-Levenshtein, and a checkpoint directory. Known difference: that jar's Jaro-Winkler (Apache
Commons Text) is not DuckDB's on every string pair, so a pair near a Jaro-Winkler threshold can
land one level apart (tests/mpi/test_spark_backend.py measures it on FEBRL1).
"""

from __future__ import annotations

import tempfile
from typing import Any


def local_spark_session(cores: int = 1, memory: str = "2g") -> Any:
    """A local Spark session configured for Splink (similarity jar, checkpoint directory, no UI)."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    spark = (SparkSession.builder.master(f"local[{cores}]").appName("ehr-mpi")
             .config("spark.jars", similarity_jar_location())
             .config("spark.sql.shuffle.partitions", str(4 * cores))
             .config("spark.ui.enabled", "false")
             .config("spark.driver.memory", memory)
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def spark_db_api(spark: Any, partitions: int = 4) -> Any:
    """Splink's ``SparkAPI`` on ``spark`` (sets a checkpoint directory when the session has none)."""
    from splink.backends.spark import SparkAPI

    if spark.sparkContext.getCheckpointDir() is None:
        spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="ehr-mpi-spark-"))
    return SparkAPI(spark_session=spark, num_partitions_on_repartition=partitions)  # type: ignore[no-untyped-call]
