"""Names vulture reports as unused that are used by something vulture cannot see (reviewed one by one).

Run: `vulture` (settings in pyproject.toml's [tool.vulture]); tests/test_code_health.py runs it in CI.
"""
# ruff: noqa: F821, B018

# onnx.ModelProto fields written by the exporter and read by onnx/onnxruntime (export/onnx_export.py).
_.producer_name
_.producer_version
_.doc_string
# onnxruntime.SessionOptions settings (export/runtime.py, ganzoo/metrics/inception_network.py).
_.graph_optimization_level
_.execution_mode
_.intra_op_num_threads
_.inter_op_num_threads
# http.client connection factory swapped in by the bounded downloader (ganzoo/client/download.py).
_._create_connection
# keras.Model.stop_training, read by Keras' fit loop (ganzoo/training/callbacks/nan_guard.py).
_.stop_training
# keras.optimizers.Optimizer.build(var_list) signature (ganzoo/training/optimizer.py).
var_list
# Public API listed in ganzoo.metrics._EXPORTS (loaded lazily by name).
inception_feature_extractor
# Written into zoo_configs/README.md by scripts/builder_table.py (outside vulture's paths).
markdown_table
