"""`make bench`: throughput, latency, memory and cold start, measured against this machine's
own ceilings (nginx serving a static file, a bare Django view) in the same run."""
