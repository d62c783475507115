"""Spark MLlib's MultilayerPerceptronClassifier on the digits repeated R times, as a user
would run it: ``local[2]``, layers 400-25-10, L-BFGS, ``tol=0`` so that every iteration runs.

    python bench/spark_mllib.py R ITERATIONS...

Prints one JSON line: the fit's seconds for each iteration count (one JVM, rows cached
first; the difference of two counts is the time of the iterations between them, start-up
left out), the iterations run and the training accuracy. Spark's output layer is a softmax
(fastnn's is sigmoids) and it has no L2 term. Needs ``pyspark`` and a Java 17 runtime: a
benchmark-only dependency (``pip install 'fastnn[bench]'``).
"""

import json
import sys
import time

import numpy as np


def main(repeat, iterations):
    from pyspark.ml.classification import MultilayerPerceptronClassifier
    from pyspark.ml.linalg import Vectors
    from pyspark.sql import SparkSession

    import fastnn

    spark = (SparkSession.builder.master("local[2]").appName("fastnn-bench")
             .config("spark.driver.memory", "6g").config("spark.ui.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    X, y = fastnn.load_digits()
    rows = [(int(label), Vectors.dense(x)) for x, label in zip(np.tile(X, (repeat, 1)),
                                                                np.tile(y, repeat))]
    frame = spark.createDataFrame(rows, ["label", "features"]).cache()
    frame.count()
    report = {"rows": len(rows), "seconds": {}, "iterations": {}}
    for n in iterations:
        classifier = MultilayerPerceptronClassifier(layers=[400, 25, 10], maxIter=n, tol=0.0,
                                                    solver="l-bfgs", seed=0, blockSize=128)
        start = time.perf_counter()
        model = classifier.fit(frame)
        report["seconds"][n] = time.perf_counter() - start
        report["iterations"][n] = model.summary().totalIterations
    predicted = model.transform(frame).select("prediction").toPandas()["prediction"]
    report["train_accuracy"] = float(np.mean(predicted.to_numpy() == np.tile(y, repeat)))
    spark.stop()
    print(json.dumps(report))


if __name__ == "__main__":
    main(int(sys.argv[1]), [int(n) for n in sys.argv[2:]])
