"""The TID 1500 report: the probability as a measurement, the call, zones by side, reasons in codes of 16 characters."""

from __future__ import annotations

import highdicom as hd
import pydicom
from pydicom.uid import generate_uid

from cxr_miliary.outputs.dicom import evidence
from cxr_miliary.outputs.report import REASON_CODES, SCHEME, measurement_report
from cxr_miliary.phantom import generate_phantoms


def test_a_report_reads_back_as_highdicom_sees_it(tmp_path):
    generate_phantoms(1, tmp_path, seed=94, size=128, formats=("dcm",))
    src = pydicom.dcmread(next((tmp_path / "images").glob("*.dcm")), stop_before_pixels=True)
    result = {
        "probability": 0.734,
        "threshold": 0.5,
        "positive": True,
        "reliable": False,
        "model": {"name": "m", "sha256": "0" * 64, "runtime": "onnxruntime-fp32"},
        "distribution": {"pattern": "diffuse-bilateral", "zones": {"right-upper": 0.2, "left-lower": 0.1}},
        "integrity": {
            "frontal_chest": True,
            "in_distribution": False,
            "reasons": ["synthetic-model: a phantom model on a real film", "a-very-long-reason-code-indeed: x"],
        },
    }
    sr = measurement_report(evidence(src), result, generate_uid(), generate_uid(), 9902)
    report = hd.sr.MeasurementReport.from_sequence([hd.sr.Comprehensive3DSR.from_dataset(sr)])
    (group,) = report.get_image_measurement_groups()
    values = {m.name.value: m.value for m in group.get_measurements()}
    assert abs(values["PROB"] - 0.734) < 1e-9 and values["THRESH"] == 0.5 and "ZONE-RIGHT-UPPER" in values
    codes = [q.value.value for q in group.get_qualitative_evaluations()]
    assert REASON_CODES["synthetic-model"] in codes and all(len(c) <= 16 for c in codes)
    assert sr.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == SCHEME
