# cxr-miliary images. Two targets from one file:
#   docker build -t cxr-miliary .                       # default: the deployment image, ONNX Runtime only, no torch
#   docker build -t cxr-miliary:torch --target torch .  # + PyTorch: every CAM method, exports, references
#   docker run --rm -v "$PWD:/data" cxr-miliary predict /data/a.dcm --cam /data/a_cam.png
# GPU variant of the torch image (CUDA wheels; run with --gpus all and the NVIDIA container toolkit):
#   docker build -t cxr-miliary:gpu --target torch --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126 .
FROM python:3.11-slim AS base

ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 NO_ALBUMENTATIONS_UPDATE=1
WORKDIR /opt/cxr-miliary
COPY pyproject.toml README.md ./
COPY cxr_miliary ./cxr_miliary
# the default bundle ships its ONNX export (with the map's gradient), so the runtime image needs no torch
COPY weights ./weights
RUN useradd --create-home --uid 10001 cxr

FROM base AS torch
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# The package's own install command (README: pip install '.[torch]'), torch from the chosen index;
# DL3013 (pin versions) does not apply: this installs the local project with an extra, not a PyPI name
# hadolint ignore=DL3013
RUN pip install --extra-index-url "${TORCH_INDEX}" ".[torch]"

USER 10001
WORKDIR /data
ENTRYPOINT ["cxr-miliary"]
CMD ["--help"]

FROM base AS runtime
# The package's own install command (README: pip install '.[pacs]'): ONNX Runtime, no torch, the DICOM node;
# DL3013 (pin versions) does not apply: the local project with an extra, not a PyPI name.
# The node listens on 127.0.0.1 unless told: in a container run it with --host 0.0.0.0
# hadolint ignore=DL3013
RUN pip install ".[pacs]"
USER 10001
WORKDIR /data
ENTRYPOINT ["cxr-miliary"]
CMD ["--help"]
