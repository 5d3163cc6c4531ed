"""An MLServer runtime whose latency and error rate the test controls.

It reads a JSON control file (path in the model settings' `parameters.extra.control`) on
every request: `{"delay_ms": 400, "error_rate": 0.1}` makes each prediction wait 400 ms and
fail one time in ten (an exception, which MLServer answers with HTTP 500). The prediction is
the demand-forecast harness model's formula, so answers are checkable.
"""
import asyncio
import json
import random

from mlserver import MLModel
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput


class ControlledModel(MLModel):
    async def load(self) -> bool:
        self._control = self.settings.parameters.extra["control"]
        return True

    def _read_control(self) -> dict:
        try:
            with open(self._control) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        control = self._read_control()
        delay = float(control.get("delay_ms", 0)) / 1000.0
        if delay > 0:
            await asyncio.sleep(delay)
        if random.random() < float(control.get("error_rate", 0)):
            raise RuntimeError("injected failure (controlled_model.py)")
        rows = payload.inputs[0].data
        values = list(rows.root if hasattr(rows, "root") else rows)
        predictions = []
        for start in range(0, len(values), 3):
            lag_7, lag_28, promo = (list(values[start:start + 3]) + [0, 0, 0])[:3]
            predictions.append(0.6 * lag_7 + 0.3 * lag_28 + 5.0 * promo + 2.0)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[
                ResponseOutput(
                    name="predict",
                    shape=[len(predictions), 1],
                    datatype="FP64",
                    data=predictions,
                )
            ],
        )
