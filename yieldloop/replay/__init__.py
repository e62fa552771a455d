"""`yieldloop replay`: recorded history run again without side effects — through the monitor's
policy (`replay monitor`) or through any registered model version (`replay images`). Nothing is
published and no consumer group is joined; results go to a run folder."""
