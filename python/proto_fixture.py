"""Record protobuf bytes made by the real producers, for the TypeScript codec's test
(test/policy/tinker/proto.test.ts) to agree with without Python at test time:

- a ForwardBackwardRequest as the tinker SDK encodes it (tinker.proto.request_conv),
- a SampleResponse and a ForwardBackwardOutput as SkyRL's server encodes them
  (skyrl.tinker.proto_serialization), with the values they carry.

    python python/proto_fixture.py > test/fixtures/tinker-proto.json
    npx biome format --write test/fixtures/tinker-proto.json
"""

import base64
import json
import sys

from skyrl.tinker import types as skyrl_types
from skyrl.tinker.proto_serialization import serialize_result
from tinker import types
from tinker.proto.request_conv import forward_backward_request_to_proto


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def main() -> None:
    datum = {
        "tokens": [5, 17, 300, 2],
        "target_tokens": [17, 300, 2, 9],
        "logprobs": [0.0, -1.5, -0.25, -3.0],
        "advantages": [0.0, 0.5, 0.5, 0.5],
    }
    request = types.ForwardBackwardRequest(
        model_id="model_abc",
        seq_id=7,
        forward_backward_input=types.ForwardBackwardInput(
            data=[
                types.Datum(
                    model_input=types.ModelInput.from_ints(datum["tokens"]),
                    loss_fn_inputs={
                        "target_tokens": types.TensorData(data=datum["target_tokens"], dtype="int64", shape=[4]),
                        "logprobs": types.TensorData(data=datum["logprobs"], dtype="float32", shape=[4]),
                        "advantages": types.TensorData(data=datum["advantages"], dtype="float32", shape=[4]),
                    },
                )
            ],
            loss_fn="importance_sampling",
            loss_fn_config={"clip_low_threshold": 0.8},
        ),
    )
    request_bytes = forward_backward_request_to_proto(request).SerializeToString()

    sample = {
        "sequences": [
            {"tokens": [11, 12, 13], "logprobs": [-0.5, -1.25, -2.0], "stop_reason": "length"},
            {"tokens": [2], "logprobs": [-0.125], "stop_reason": "stop"},
        ],
        "prompt_logprobs": [None, -3.5, -0.75],
    }
    sample_bytes = serialize_result(skyrl_types.RequestType.SAMPLE, sample)

    fb = {
        "loss_fn_output_type": "ArrayRecord",
        "loss_fn_outputs": [
            {
                "logprobs": {"data": [-1.0, -2.0, -0.5], "dtype": "float32", "shape": [3]},
                "elementwise_loss": {"data": [0.0, 0.25, 0.5], "dtype": "float32", "shape": [3]},
            },
            {
                "logprobs": {"data": [-4.0], "dtype": "float32", "shape": [1]},
                "elementwise_loss": {"data": [1.5], "dtype": "float32", "shape": [1]},
            },
        ],
        "metrics": {"loss:sum": 2.25},
    }
    fb_bytes = serialize_result(skyrl_types.RequestType.FORWARD_BACKWARD, fb)

    out = {
        "forward_backward_request": {
            "fields": {
                "model_id": "model_abc",
                "seq_id": 7,
                "loss_fn": "importance_sampling",
                "loss_fn_config": {"clip_low_threshold": 0.8},
                "datum": datum,
            },
            "proto": b64(request_bytes),
        },
        "sample_response": {"value": sample, "proto": b64(sample_bytes)},
        "forward_backward_output": {"value": fb, "proto": b64(fb_bytes)},
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
