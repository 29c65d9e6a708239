"""What developers run beside the product, never shipped in the wheel or the image: the load test
(``python -m tools.loadtest``), the classifier's and the selfie path's benchmarks (``tools.bench``,
``tools.selfiebench``) and the GPU pack (``tools.devicepack``, ``tools/device_run.sh``)."""
