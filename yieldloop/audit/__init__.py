"""`yieldloop audit`: every iteration's story rebuilt from the topics alone, checked against
MLflow and the image store, as a table, JSON and one self-contained HTML page per iteration."""
