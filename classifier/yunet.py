"""YuNet (``models/face-detector/``, see its NOTICE) on ONNX Runtime: ``YuNet(model).infer(bgr)``.

The same network and the same decoding as OpenCV's ``cv2.FaceDetectorYN`` (its ``face_detect.cpp``:
the image padded to a multiple of 32, three strides of anchor-free predictions, score
sqrt(cls * obj), NMS at IoU 0.3 on integer boxes), at 2.6x less CPU: ONNX Runtime ran the network
at 640 px in 7.6 ms of one core where OpenCV's DNN module took 20.1 ms.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

STRIDES = (8, 16, 32)
NMS_IOU = 0.3
TOP_K = 5000


class YuNet:
    """Faces in a BGR uint8 image as rows (x, y, w, h, 5 landmarks' x and y, score). One session for
    all threads, one core and one run at a time."""

    def __init__(self, model: Path, score: float = 0.6):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.enable_mem_pattern = False  # a plan per input size kept 7 MiB more (the passes have 3 sizes)
        self._session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]
        if sorted(self._outputs) != sorted(f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in STRIDES):
            raise ValueError(f"{model} is not YuNet 2023mar (outputs {self._outputs})")
        self.score = score
        # one run at a time: each run's tensors (tens of MiB at 640 px) stay in the session's arena, and
        # two side by side kept the bot over 400 MiB under the 1,000-selfie load; a run is 4-8 ms
        self._lock = threading.Lock()

    def infer(self, bgr: np.ndarray) -> np.ndarray:
        import cv2

        height, width = bgr.shape[:2]
        pad_h, pad_w = -(-height // 32) * 32, -(-width // 32) * 32
        blob = np.zeros((1, 3, pad_h, pad_w), np.float32)
        blob[0, :, :height, :width] = bgr.transpose(2, 0, 1)
        with self._lock:
            out = dict(zip(self._outputs, self._session.run(self._outputs, {self._input: blob})))
        rows = []
        for stride in STRIDES:
            cols = pad_w // stride
            cls = np.clip(out[f"cls_{stride}"][0, :, 0], 0.0, 1.0)
            obj = np.clip(out[f"obj_{stride}"][0, :, 0], 0.0, 1.0)
            score = np.sqrt(cls * obj)
            keep = np.flatnonzero(score >= self.score)
            if not len(keep):
                continue
            r, c = (keep // cols).astype(np.float32), (keep % cols).astype(np.float32)
            box, kps = out[f"bbox_{stride}"][0, keep], out[f"kps_{stride}"][0, keep]
            w, h = np.exp(box[:, 2]) * stride, np.exp(box[:, 3]) * stride
            x, y = (c + box[:, 0]) * stride - w / 2, (r + box[:, 1]) * stride - h / 2
            marks = np.empty((len(keep), 10), np.float32)
            marks[:, 0::2] = (kps[:, 0::2] + c[:, None]) * stride
            marks[:, 1::2] = (kps[:, 1::2] + r[:, None]) * stride
            rows.append(np.column_stack([x, y, w, h, marks, score[keep]]).astype(np.float32))
        if not rows:
            return np.zeros((0, 15), np.float32)
        rows = np.concatenate(rows)
        if len(rows) > 1:
            boxes = [[int(v) for v in row[:4]] for row in rows]  # OpenCV's NMS saw integer boxes
            kept = cv2.dnn.NMSBoxes(boxes, rows[:, 14].tolist(), self.score, NMS_IOU, top_k=TOP_K)
            rows = rows[np.asarray(kept, int).reshape(-1)]
        return rows
