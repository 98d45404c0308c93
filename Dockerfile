# cxr-miliary: CPU image by default.
#   docker build -t cxr-miliary .
#   docker run --rm -v "$PWD:/data" cxr-miliary predict /data/a.dcm --cam /data/a_cam.png
# GPU variant (CUDA wheels of torch; run with --gpus all and the NVIDIA container toolkit):
#   docker build -t cxr-miliary:gpu --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126 .
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

WORKDIR /opt/cxr-miliary
COPY pyproject.toml README.md ./
COPY cxr_miliary ./cxr_miliary
COPY weights ./weights
# The package's own install command (README: pip install .), torch from the chosen index;
# the default bundle in weights/ is installed with it (share/cxr-miliary/weights).
RUN pip install --extra-index-url "${TORCH_INDEX}" . \
    && useradd --create-home --uid 10001 cxr

USER 10001
WORKDIR /data
ENTRYPOINT ["cxr-miliary"]
CMD ["--help"]
