"""A real PACS on loopback: Orthanc (Debian's ``orthanc`` and ``orthanc-dicomweb``) started with a generated configuration.

Used by the tests and by ``cxr-miliary bench orthanc`` (:func:`orthanc_bench`): films are uploaded over Orthanc's
REST API, Orthanc itself sends them to the node (C-STORE SCU), the node sends SR and SC
back (by C-STORE or STOW-RS), and Orthanc's REST API says what each study holds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .pacs import _free_port, _score_once, _wait_listening, bench_films

ORTHANC = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
#: A Lua script that sends every instance Orthanc stores to the node: a router's usual set-up.
ROUTE_EVERYTHING = """
function OnStoredInstance(instanceId, tags, metadata, origin)
  SendToModality(instanceId, 'cxr')
end
"""


def available() -> bool:
    """Whether Orthanc and its DICOMweb plugin are installed."""
    return Path(ORTHANC).exists() and Path(DICOMWEB_PLUGIN).exists()


class Orthanc:
    """A private Orthanc: its own storage, DICOM and HTTP ports on 127.0.0.1, the node declared as modality ``cxr``.

    Args:
        node_port: The node's DICOM port.
        node_ae: The node's AE title.
        route_everything: Install :data:`ROUTE_EVERYTHING`.
        folder: Where its storage and configuration go (a temporary folder otherwise).
    """

    def __init__(self, node_port: int, node_ae: str = "CXR-MILIARY", *, route_everything: bool = False, folder: str | None = None) -> None:
        self.folder = Path(folder or tempfile.mkdtemp(prefix="orthanc-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dicom_port, self.http_port = _free_port(), _free_port()
        self.aet = "ORTHANC"
        config = {
            "Name": "cxr-miliary-test",
            "StorageDirectory": str(self.folder / "db"),
            "IndexDirectory": str(self.folder / "db"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomAlwaysAllowStore": True,
            "DicomCheckCalledAet": False,
            "DicomModalities": {"cxr": [node_ae, "127.0.0.1", node_port]},
            "Plugins": [DICOMWEB_PLUGIN],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "StableAge": 1,
            "DicomScuTimeout": 20,
            "HttpTimeout": 20,
            "ConcurrentJobs": 2,
        }
        if route_everything:
            (self.folder / "route.lua").write_text(ROUTE_EVERYTHING)
            config["LuaScripts"] = [str(self.folder / "route.lua")]
        (self.folder / "orthanc.json").write_text(json.dumps(config, indent=2))
        self.log = open(self.folder / "orthanc.log", "wb")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen([ORTHANC, str(self.folder / "orthanc.json")], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                self.get("/system")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"Orthanc did not start: {(self.folder / 'orthanc.log').read_text()[-1500:]}") from None
                time.sleep(0.2)
        raise RuntimeError("Orthanc did not answer within 60 s")

    @property
    def url(self) -> str:
        """Its REST root."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        """Its DICOMweb root."""
        return f"{self.url}/dicom-web"

    def _call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json") -> Any:
        req = urllib.request.Request(self.url + path, data=body, method=method, headers={"Content-Type": content_type})
        with urllib.request.urlopen(req, timeout=60) as r:
            data = r.read()
        return json.loads(data) if data[:1] in (b"{", b"[") else data

    def get(self, path: str) -> Any:
        """GET a REST resource (JSON decoded)."""
        return self._call("GET", path)

    def upload(self, path: str | Path) -> str:
        """Store a DICOM file; its Orthanc instance id."""
        return str(self._call("POST", "/instances", Path(path).read_bytes(), "application/dicom")["ID"])

    def send_to_node(self, instance_ids: list[str]) -> Any:
        """Orthanc C-STOREs these instances to the node (one job, as a router's "send" does)."""
        return self._call("POST", "/modalities/cxr/store", json.dumps({"Resources": instance_ids, "Synchronous": True}).encode())

    def studies(self) -> dict[str, dict[str, list[dict[str, str]]]]:
        """Study Instance UID -> {modality -> [instance tags (SOPClassUID, SOPInstanceUID, SeriesDescription, Manufacturer)]}."""
        out: dict[str, dict[str, list[dict[str, str]]]] = {}
        for study in self.get("/studies"):
            s = self.get(f"/studies/{study}")
            uid = s["MainDicomTags"]["StudyInstanceUID"]
            for instance in self.get(f"/studies/{study}/instances"):
                tags = self.get(f"/instances/{instance['ID']}/simplified-tags")
                entry = {k: str(tags.get(k, "")) for k in ("SOPClassUID", "SOPInstanceUID", "SeriesDescription", "Manufacturer", "Modality")}
                entry["id"] = instance["ID"]
                out.setdefault(uid, {}).setdefault(entry["Modality"], []).append(entry)
        return out

    def instances(self) -> int:
        """How many instances it holds."""
        return int(self.get("/statistics")["CountInstances"])

    def file(self, instance_id: str) -> bytes:
        """An instance's DICOM file."""
        return self._call("GET", f"/instances/{instance_id}/file")

    def stop(self) -> None:
        """Stop it and remove its storage."""
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _results(path: Path) -> list[dict[str, Any]]:
    """The node's result rows so far (a line being written is not one yet)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


def _through_orthanc(base: list[str], files: list[Path], node: Path, w: list[str], *, web: bool, films: int) -> float:
    """Orthanc sends the films to a fresh node (started, not timed) that sends its results back: seconds until all are in."""
    port = _free_port()
    pacs = Orthanc(port, folder=str(node / "orthanc"))
    try:
        ids = [pacs.upload(f) for f in files]
        dest = ["--dest-web", pacs.dicomweb] if web else ["--dest", f"127.0.0.1:{pacs.dicom_port}:{pacs.aet}"]
        serve = [*base, "serve", "--port", str(port), "--out", str(node / "out"), "--allow-ae", pacs.aet, *dest, *w]
        proc = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_listening(port, proc)
            t = time.perf_counter()
            pacs.send_to_node(ids)
            want = None  # the films plus every object their results name (a film refused by the checks has its SR only)
            while (want is None or pacs.instances() < want) and proc.poll() is None and time.perf_counter() - t < 1800:
                time.sleep(0.1)
                if want is None:
                    rows = _results(node / "out" / "results.jsonl")
                    want = (
                        films + sum(len([f for f in str(r.get("dicom_outputs") or "").split(";") if f]) for r in rows) if len(rows) >= films else None
                    )
            took = time.perf_counter() - t
            if want is None or pacs.instances() < want:
                raise RuntimeError(f"Orthanc holds {pacs.instances()} instances, {want or 'more'} were expected")
            return took
        finally:
            proc.terminate()
            proc.wait(30)
    finally:
        pacs.stop()


def orthanc_bench(weights: str | None, *, n: int = 20, size: int = 2048, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """``n`` films through Orthanc and the node, results back by DIMSE and by DICOMweb, against ``score --dicom-out``; one run each.

    Each Orthanc timing runs from Orthanc's send job starting to the last SR and SC stored in
    Orthanc (the node already listening), so it holds Orthanc's C-STORE out, the node's scoring
    and the way back in.
    """
    from ..inference.fastpath import machine

    if not available():
        raise RuntimeError(f"Orthanc is not installed ({ORTHANC}, {DICOMWEB_PLUGIN}): apt install orthanc orthanc-dicomweb")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files, base, w = bench_films(root, n, size, 9595, weights)
        batch = _score_once(base, files, root, w)
        dimse = _through_orthanc(base, files, root / "dimse", w, web=False, films=n)
        web = _through_orthanc(base, files, root / "web", w, web=True, films=n)
    res = {"machine": machine("cpu"), "films": n, "size": size, "score_dicom_out_s": batch, "orthanc_dimse_s": dimse, "orthanc_dicomweb_s": web}
    # a film the checks refuse is answered with its SR alone: the figures count films, not objects
    log(
        f"{n} phantom DICOMs at {size}², {res['machine']}, one run each:\n"
        f"  score --dicom-out (whole process): {batch:.1f} s = {n / batch:.2f} films/s\n"
        f"  Orthanc -> serve -> Orthanc by C-STORE: {dimse:.1f} s = {n / dimse:.2f} films/s ({batch / dimse:.2f}x score)\n"
        f"  Orthanc -> serve -> Orthanc by STOW-RS: {web:.1f} s = {n / web:.2f} films/s ({batch / web:.2f}x score)"
    )
    return res
