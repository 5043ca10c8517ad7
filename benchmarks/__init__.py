"""Performance benchmarks of the generator against its peers (`make bench`, docs/performance.md).
Not part of `make test`: they take minutes and want quiet cores."""
