# CPU image by default; build a CUDA variant with --build-arg TORCH_INDEX=<a CUDA wheel index>.
# Usage: docker build -t cxr-miliary . && docker run --rm -v "$PWD:/data" cxr-miliary info /data/a.dcm
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

WORKDIR /opt/cxr-miliary
COPY pyproject.toml README.md ./
COPY cxr_miliary ./cxr_miliary
COPY weights ./weights
# The same install command as the README's, with torch taken from the chosen index.
RUN pip install --extra-index-url "${TORCH_INDEX}" . \
    && useradd --create-home --uid 1000 cxr

USER cxr
WORKDIR /data
ENTRYPOINT ["cxr-miliary"]
CMD ["--help"]
