"""Shared fixtures. Test data is generated here, never downloaded."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from dicom_factory import make_dicom, ramp
from PIL import Image

from cxr_miliary.data import assign_splits
from cxr_miliary.models import cam_target_layer, create_model, save_bundle
from cxr_miliary.phantom import generate_phantoms

# Keep the tests single-threaded per worker: the CI machine has 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The fast-path verdicts (precision="auto") are cached; keep the tests' cache out of $HOME.
os.environ.setdefault("CXR_MILIARY_CACHE", __import__("tempfile").mkdtemp(prefix="cxr-miliary-cache-"))

PYDICOM_TEST_FILES = Path(__import__("pydicom").__file__).parent / "data" / "test_files"


@pytest.fixture
def pydicom_file():
    """Path to one of the real scanner files bundled inside pydicom's wheel."""

    def get(name: str) -> Path:
        path = PYDICOM_TEST_FILES / name
        if not path.exists():
            pytest.skip(f"{name} not bundled with this pydicom")
        return path

    return get


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("test_resnet", in_chans=1)
    card = {
        "name": "tiny-test",
        "backbone": "test_resnet",
        "preprocess": {"image_size": 128, "channels": 1, "mean": 0.5, "std": 0.25},
        "cam_target_layer": cam_target_layer(model),
        "temperature": 1.5,
        "threshold": 0.5,
    }
    return save_bundle(model, tmp_path_factory.mktemp("bundle") / "tiny", card)


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ph_inf")
    generate_phantoms(4, out, seed=21, size=256, formats=("dcm", "png"))
    return out


@pytest.fixture
def messy_folder(tmp_path, phantom_dir):
    d = tmp_path / "archive"
    (d / "sub").mkdir(parents=True)
    for f in sorted((phantom_dir / "images").glob("*"))[:4]:
        (d / f.name).write_bytes(f.read_bytes())
    (d / "zero.dcm").write_bytes(b"")
    good = (phantom_dir / "images" / "ph0021_000000.dcm").read_bytes()
    (d / "truncated.dcm").write_bytes(good[: len(good) // 3])
    (d / "notes.png").write_text("not an image at all\n" * 20)
    make_dicom(d / "sub" / "ct.dcm", ramp(rows=64, cols=64), modality="CT")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(d / "colour.png")
    (d / "sub" / "noext").write_bytes(good)  # DICOM recognised by content
    return d


def _pc_row(i, image, folder, patient, projection, labels, birth="1950", sex="M"):
    return (
        f"{i},{image},{folder},20140128,st{i},{patient},{birth},{sex},POSTEROANTERIOR,{projection},Manual review of DICOM fields,No,CR,"
        f'PhilipsMedicalSystems,MONOCHROME2,0,None,0.139,12,2047,4095,2800,2500,None,None,None,None,None,r{i},"texto del informe",'
        f'Physician,"{labels}","[]","[]","[]","[]"'
    )


@pytest.fixture
def padchest_header():
    """The published PadChest label table's header line."""
    return PADCHEST_HEADER


@pytest.fixture
def padchest_csv(tmp_path):

    rows = [
        _pc_row(0, "a1.png", 0, "p1", "PA", "['miliary opacities', 'normal']"),
        _pc_row(1, "a2.png", 0, "p1", "L", "['miliary opacities']"),  # lateral of the same patient
        _pc_row(2, "b1.png", 1, "p2", "AP", "[' reticulonodular interstitial pattern ', 'cardiomegaly']"),  # stray spaces
        _pc_row(3, "c1.png", 1, "p3", "PA", "['normal']"),
        _pc_row(4, "d1.png", 2, "p4", "PA_", "['normal']"),
        _pc_row(5, "e1.png", 2, "p5", "AP_horizontal", "['reticular interstitial pattern']"),  # a different term, not a substring hit
        _pc_row(6, "f1.png", 3, "p6", "PA", ""),  # no labels
        _pc_row(7, "g1.png", 3, "p1", "PA", "['Miliary Opacities']"),  # case
        _pc_row(8, "h1.png", 3, "p7", "PA", "['pseudonodule', 'miliary opacities nos']"),  # substring trap
    ]
    path = tmp_path / "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(PADCHEST_HEADER + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def phantom_manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("ph")
    manifest = generate_phantoms(16, root, seed=5, size=160, formats=("png", "dcm"))
    df = pd.read_csv(manifest)
    df["split"] = assign_splits(df, (0.5, 0.25, 0.25), 0)
    df.loc[0, "path"] = "images/does_not_exist.png"  # a file that fails to decode
    df.loc[0, "split"] = "train"
    df.to_csv(manifest, index=False)
    return manifest


PADCHEST_HEADER = (
    ",ImageID,ImageDir,StudyDate_DICOM,StudyID,PatientID,PatientBirth,PatientSex_DICOM,ViewPosition_DICOM,Projection,"
    "MethodProjection,Pediatric,Modality_DICOM,Manufacturer_DICOM,PhotometricInterpretation_DICOM,PixelRepresentation_DICOM,"
    "PixelAspectRatio_DICOM,SpatialResolution_DICOM,BitsStored_DICOM,WindowCenter_DICOM,WindowWidth_DICOM,Rows_DICOM,"
    "Columns_DICOM,XRayTubeCurrent_DICOM,Exposure_DICOM,ExposureInuAs_DICOM,ExposureTime,RelativeXRayExposure_DICOM,ReportID,"
    "Report,MethodLabel,Labels,Localizations,LabelsLocalizationsBySentence,labelCUIS,LocalizationsCUIS"
)


@pytest.fixture(scope="session")
def lung_bundle(tmp_path_factory):
    """A small lung bundle (a fresh network, its ONNX export) the model and training tests share."""
    from cxr_miliary.models.lung_bundle import save_lung_bundle
    from cxr_miliary.models.lung_model import create_lung_model

    torch.manual_seed(0)
    model = create_lung_model()
    return save_lung_bundle(
        model,
        tmp_path_factory.mktemp("lungs") / "b",
        input_size=128,
        encoder="tu-mobilenetv3_small_100",
        decoder_channels=(64, 32, 24, 16, 8),
        training_data={"description": "test"},
        metrics={},
    )
