"""The schema fuzzer: values documents generated from values.schema.json (values.py), rendered
by the real helm and judged by the embedded API server (oracle.py, dryrun.py); `make fuzz`
runs it (run.py), tests/cluster/test_fuzz.py runs a slice. See docs/fuzz.md."""
