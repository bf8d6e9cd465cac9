"""The committed TLS and failure samples are exactly what tests/support/kind_samples.py builds."""

from __future__ import annotations

from tests.support.kind_samples import FAILURE_DIR, TLS_DIR, failure_samples, tls_samples


def test_committed_samples_equal_the_builder():
    for folder, samples in ((TLS_DIR, tls_samples()), (FAILURE_DIR, failure_samples())):
        assert sorted(p.name for p in folder.iterdir()) == sorted(s.name for s in samples)
        for sample in samples:
            assert (folder / sample.name).read_bytes() == sample.data, sample.name
