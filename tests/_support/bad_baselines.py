"""A tiny table and its committed-baseline CSV, good and damaged in each way the baseline checks name."""

import numpy as np

DATA = {"step": np.arange(3), "distance": np.array([1.0, 0.5, 0.25])}
GOOD_CSV = ",step,distance\n0,0,1.0\n1,1,0.5\n2,2,0.25\n"
#: damaged CSV baselines of DATA: the problem csv_problem reports for each
BAD_CSVS = {
    "garbage": (b"\x00\xff\xfe\x89PNG garbage\n", "cannot be read as CSV"),
    "empty": (b"", "cannot be read as CSV"),
    "text": (b"hello world\n", "does not start with num_regression's index column"),
    "missing_column": (b",step\n0,0\n1,1\n2,2\n", "lacks the column(s) ['distance']"),
    "extra_column": (b",step,distance,old\n0,0,1.0,9\n1,1,0.5,9\n2,2,0.25,9\n",
                     "has column(s) ['old'] that the table does not"),
    "too_few_rows": (GOOD_CSV.rsplit("2,2", 1)[0].encode(), "has 2 rows where the table has 3"),
    "too_many_rows": ((GOOD_CSV + "3,3,0.125\n").encode(), "has 4 rows where the table has 3"),
    "not_numbers": (GOOD_CSV.replace("0.5", "oops").encode(),
                    "holds values that are not numbers in column(s) ['distance']"),
}
