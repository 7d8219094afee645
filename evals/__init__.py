"""The evaluation suite: gold questions, metrics, the naive baseline, report and gate."""
