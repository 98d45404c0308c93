"""The result as a DICOM TID 1500 Measurement Report (Comprehensive 3D SR), written with highdicom.

What IHE's AI Results profile asks of an AI node, so viewers can read the numbers and
not only a text: the observer is the algorithm (a device, with TID 4019 algorithm
identification: name, version and the model's sha256), the image it read is referenced,
and one measurement group holds

- the calibrated probability (a numeric measurement, no units);
- the call (present / absent) and the distribution pattern (qualitative evaluations);
- the six lung zones' share of the map (numeric, each with its finding site);
- the integrity verdicts: frontal chest, in distribution, reliable (yes / no / not run),
  and one qualitative evaluation per reason code;
- the ``NOT RELIABLE`` sentence when it applies and the disclaimer (TEXT comments).

Standard codes where they exist (DCM, SNOMED CT, UCUM); the rest come from a private
coding scheme, :data:`SCHEME` (declared in the file's Coding Scheme Identification
Sequence and listed in docs/deployment.md).
"""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from ..lung_zones import ZONE_NAMES
from ..version import __version__

#: The private coding scheme of every concept DCM, SNOMED CT and UCUM do not have.
SCHEME = "99CXRMIL"
SCHEME_NAME = "cxr-miliary result concepts"
DISCLAIMER = "NOT FOR DIAGNOSTIC USE - research software output (cxr-miliary), not a medical device"
#: (code, meaning) of the private concepts, one place (docs/deployment.md lists them).
CONCEPTS = {
    "finding": ("MILIARY", "Miliary / reticulonodular pattern"),
    "probability": ("PROB", "Calibrated probability of the miliary / reticulonodular pattern"),
    "threshold": ("THRESH", "Decision threshold"),
    "call": ("CALL", "Pattern call at the decision threshold"),
    "pattern": ("DISTRIB", "Distribution of the map in the lungs"),
    "frontal_chest": ("FRONTAL", "Frontal chest radiograph (pixel check)"),
    "in_distribution": ("INDIST", "Within the model's training distribution"),
    "reliable": ("RELIABLE", "Result reliable"),
    "reason": ("REASON", "Integrity reason"),
}
PATTERN_CODES = {
    "diffuse-bilateral": ("DIFFUSE", "Diffuse bilateral"),
    "unilateral": ("UNILAT", "Unilateral"),
    "focal": ("FOCAL", "Focal"),
    "none": ("NONE", "No pattern"),
}
ZONE_CODES = {z: (f"ZONE-{z.upper()}", f"Share of the map, {z.replace('-', ' ')} zone") for z in ZONE_NAMES}
#: The private code of each integrity reason (a code value holds at most 16 characters).
REASON_CODES = {"synthetic-model": "SYNTHETIC-MODEL", "out-of-distribution": "OOD", "polarity-suspect": "POLARITY"}
#: Standard codes.
YES, NO = ("373066001", "SCT", "Yes"), ("373067005", "SCT", "No")
NOT_RUN = ("NOTRUN", SCHEME, "Not run")
PRESENT, ABSENT = ("52101004", "SCT", "Present"), ("2667000", "SCT", "Absent")
RIGHT_LUNG, LEFT_LUNG = ("3341006", "SCT", "Right lung structure"), ("44029006", "SCT", "Left lung structure")
CHEST_XRAY = ("399208008", "SCT", "Plain chest X-ray")
UNITY = ("1", "UCUM", "no units")


def _c(code: tuple[str, str, str] | tuple[str, str]) -> Any:
    from highdicom.sr import CodedConcept

    if len(code) == 2:
        return CodedConcept(code[0], SCHEME, code[1])
    return CodedConcept(*code)


def _yes_no(value: bool | None) -> tuple[str, str, str]:
    return NOT_RUN if value is None else YES if value else NO


def measurement_report(src: Dataset, result: dict[str, Any], series_uid: str, sop_uid: str, series_number: int) -> Dataset:
    """A TID 1500 Measurement Report of ``result`` (``predict``'s JSON) about the image ``src``.

    Args:
        src: The source image's data set (its header; the patient and study modules are copied).
        result: The prediction JSON (:meth:`~cxr_miliary.inference.result.Result.to_json`).
        series_uid: The new series.
        sop_uid: The report's SOP Instance UID.
        series_number: Its series number.
    """
    import highdicom as hd
    from highdicom.sr import CodedConcept

    model = result["model"]
    algo = hd.sr.AlgorithmIdentification(
        name="cxr-miliary",
        version=__version__,
        parameters=[f"model {model['name']}", f"sha256 {model['sha256']}", f"runtime {model.get('runtime', '')}"],
    )
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=generate_uid(entropy_srcs=["cxr-miliary", model["sha256"]]),
        name="cxr-miliary",
        manufacturer_name="cxr-miliary",
        model_name=str(model["name"])[:64],
    )
    context = hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(observer_type=codes.DCM.Device, observer_identifying_attributes=device)
    )
    lungs = hd.sr.FindingSite(anatomic_location=CodedConcept("39607008", "SCT", "Lung structure"))
    measurements = [
        hd.sr.Measurement(
            name=_c(CONCEPTS["probability"]), value=float(result["probability"]), unit=_c(UNITY), algorithm_id=algo, finding_sites=[lungs]
        ),
        hd.sr.Measurement(name=_c(CONCEPTS["threshold"]), value=float(result["threshold"]), unit=_c(UNITY)),
    ]
    dist = result.get("distribution") or {}
    for zone, share in (dist.get("zones") or {}).items():
        site = hd.sr.FindingSite(anatomic_location=_c(RIGHT_LUNG if zone.startswith("right") else LEFT_LUNG))
        measurements.append(hd.sr.Measurement(name=_c(ZONE_CODES[zone]), value=float(share), unit=_c(UNITY), finding_sites=[site]))
    integrity = result.get("integrity") or {}
    evaluations = [
        hd.sr.QualitativeEvaluation(_c(CONCEPTS["call"]), _c(PRESENT if result["positive"] else ABSENT)),
        hd.sr.QualitativeEvaluation(_c(CONCEPTS["frontal_chest"]), _c(_yes_no(integrity.get("frontal_chest")))),
        hd.sr.QualitativeEvaluation(_c(CONCEPTS["in_distribution"]), _c(_yes_no(integrity.get("in_distribution")))),
        hd.sr.QualitativeEvaluation(_c(CONCEPTS["reliable"]), _c(_yes_no(result.get("reliable")))),
    ]
    if dist.get("pattern") in PATTERN_CODES:
        evaluations.insert(1, hd.sr.QualitativeEvaluation(_c(CONCEPTS["pattern"]), _c(PATTERN_CODES[dist["pattern"]])))
    for reason in integrity.get("reasons") or []:
        name = str(reason).split(":", 1)[0].strip()
        code = REASON_CODES.get(name, name.upper()[:16] or "OTHER")
        evaluations.append(hd.sr.QualitativeEvaluation(_c(CONCEPTS["reason"]), CodedConcept(code, SCHEME, str(reason)[:64])))
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(entropy_srcs=[sop_uid, "group"]), identifier="miliary pattern"),
        finding_type=_c(CONCEPTS["finding"]),
        algorithm_id=algo,
        measurements=measurements,
        qualitative_evaluations=evaluations,
        source_images=[
            hd.sr.SourceImageForMeasurementGroup(referenced_sop_class_uid=src.SOPClassUID, referenced_sop_instance_uid=src.SOPInstanceUID)
        ],
    )
    comments = [DISCLAIMER]
    if result.get("reliable") is False:
        from ..verdicts import unreliable_sentence

        comments.insert(0, unreliable_sentence(integrity))
    for text in comments:
        group[0].ContentSequence.append(
            hd.sr.TextContentItem(name=codes.DCM.Comment, value=text, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
        )
    report = hd.sr.MeasurementReport(
        observation_context=context, procedure_reported=_c(CHEST_XRAY), imaging_measurements=[group], title=codes.DCM.ImagingMeasurementReport
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[src],
        content=report[0],
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer="cxr-miliary",
        is_complete=True,
        series_description="cxr-miliary result (not for diagnostic use)",
    )
    scheme = Dataset()
    scheme.CodingSchemeDesignator, scheme.CodingSchemeName = SCHEME, SCHEME_NAME
    scheme.CodingSchemeResponsibleOrganization = "cxr-miliary (open source, see its README)"
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr
