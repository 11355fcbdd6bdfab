"""The anchor for bench:weights: gguf-py dequantizes every tensor of a GGUF to float32, one at a time.

    python bench/ref/gguf_dequantize.py FILE.gguf

Prints one JSON line: wall and CPU seconds over all tensors, the weights, and the peak RSS in MB.
"""

import json
import resource
import sys
import time

import gguf

reader = gguf.GGUFReader(sys.argv[1])
wall, cpu = time.perf_counter(), time.process_time()
weights = 0
for t in reader.tensors:
    weights += gguf.quants.dequantize(t.data, t.tensor_type).size
print(json.dumps({
    "wallS": time.perf_counter() - wall,
    "cpuS": time.process_time() - cpu,
    "weights": weights,
    "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,
}))
