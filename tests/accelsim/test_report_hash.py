"""The same inputs give the same workload and report hashes, wherever the data and the repo live."""

import shutil

from accelsim.engine import simulate
from workloads.zoo import resolve


def test_hashes_do_not_depend_on_the_shared_folder_location(shared, tmp_path):
    other = tmp_path / "elsewhere"
    shutil.copytree(shared / "validation" / "eie_alexnet_fc8", other / "validation" / "eie_alexnet_fc8")
    a = resolve("eie-alexnet-fc8", shared=shared)
    b = resolve("eie-alexnet-fc8", shared=other)
    assert a.meta["eie_dump"] != b.meta["eie_dump"]          # provenance differs ...
    assert a.content_hash == b.content_hash                   # ... the content does not
    ra, rb = simulate(a, "eie", jobs=1), simulate(b, "eie", jobs=1)
    assert ra.hash == rb.hash and ra.total()["cycles"] == rb.total()["cycles"]
