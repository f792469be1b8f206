"""Inference benchmarks, side by side in one run; prints Markdown and can rewrite BENCHMARKS.md's section.

1. ONNX Runtime vs the training framework's own predict (scikit-survival, scikit-learn, PyTorch; NEWS2 vs
   the pure-Python chart lookup) on identical held-out inputs: time ratio and max |difference|.
2. Batch-1 latency: a bare ``session.run`` and a request through the service's micro-batcher.
3. Micro-batched throughput: concurrent single-row clients, batching off vs on.
4. End-to-end ``suggest`` latency from FHIR resources (feature extraction, inference, FHIR output).

Needs the ``train`` extra (and torch). Usage::

    python bench/bench_inference.py [--quick] [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.runtime import MicroBatcher, session_options  # noqa: E402
from inference.service import InferenceService, LoadedModel  # noqa: E402
from models.train import breast_mass_malignancy, ct_phantom_cnn, news2, post_mi_mortality  # noqa: E402

MODELS = ROOT / "models"
SECTION = "## Inference"


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls after two warm-up calls."""
    fn()
    fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def pct(samples: list[float], q: float) -> float:
    """Percentile in microseconds."""
    return float(np.percentile(samples, q) * 1e6)


def session(name: str) -> ort.InferenceSession:
    """A one-thread CPU session as the service builds it."""
    data = (MODELS / name / "1" / "model.onnx").read_bytes()
    return ort.InferenceSession(data, sess_options=session_options(1), providers=["CPUExecutionProvider"])


def parity_rows(repeat: int) -> list[list[str]]:
    """Section 1: framework vs ONNX Runtime on the held-out split (whole split and one row)."""
    rows = []
    x_train, x_test, y_train, _ = post_mi_mortality.split()
    predict = post_mi_mortality.fit(x_train, y_train)[3]
    rows.append(compare("post-mi-mortality", "scikit-survival", predict, x_test, "features", repeat))
    x_train, x_test, y_train, _ = breast_mass_malignancy.split()
    pipe = breast_mass_malignancy.fit(x_train, y_train)
    rows.append(
        compare(
            "breast-mass-malignancy", "scikit-learn", lambda x: pipe.predict_proba(x)[:, 1], x_test, "features", repeat
        )
    )
    cases = np.array([r for r, _ in news2.verification_cases()], dtype=np.float64)

    def chart(x: Any) -> Any:
        return np.array(
            [sum(news2.chart_points(f["name"], v) for f, v in zip(news2.FEATURES, r, strict=True)) for r in x]
        )

    rows.append(compare("news2", "Python chart lookup", chart, cases, "features", repeat, output="score"))
    torch.set_num_threads(1)
    net = ct_phantom_cnn.net_from_onnx(onnx.load(str(MODELS / "ct-phantom-lesion" / "1" / "model.onnx")))
    images, _ = ct_phantom_cnn.dataset(ct_phantom_cnn.SEED + 1, 64)

    def torch_predict(x: Any) -> Any:
        with torch.no_grad():
            return torch.sigmoid(net(torch.from_numpy(x.astype(np.float32))))[:, 0].numpy()

    rows.append(compare("ct-phantom-lesion", "PyTorch (1 thread)", torch_predict, images, "image", repeat // 4))
    return rows


def compare(
    name: str,
    framework: str,
    predict: Callable[[Any], Any],
    x: Any,
    input_name: str,
    repeat: int,
    output: str = "probability",
) -> list[str]:
    """One table row: times for the whole set and for one row, ratio, and max |difference|."""
    sess = session(name)
    x32 = x.astype(np.float32)

    def onnx_predict(batch: Any) -> Any:
        return sess.run([output], {input_name: batch})[0][:, 0]

    diff = float(np.abs(np.asarray(predict(x), dtype=np.float64) - onnx_predict(x32)).max())
    fw_all = statistics.median(timed(lambda: predict(x), repeat))
    ort_all = statistics.median(timed(lambda: onnx_predict(x32), repeat))
    fw_one = statistics.median(timed(lambda: predict(x[:1]), repeat))
    ort_one = statistics.median(timed(lambda: onnx_predict(x32[:1]), repeat))
    return [
        name,
        framework,
        str(len(x)),
        f"{fw_all * 1e3:.3f}",
        f"{ort_all * 1e3:.3f}",
        f"{fw_all / ort_all:.1f}×",
        f"{fw_one * 1e6:.0f}",
        f"{ort_one * 1e6:.0f}",
        f"{fw_one / ort_one:.1f}×",
        f"{diff:.1e}",
    ]


def latency_pair(model: LoadedModel, x: Any, repeat: int) -> tuple[list[float], list[float]]:
    """Batch-1 samples: bare ``session.run`` and through the model's micro-batcher."""

    def bare() -> object:
        return model.session.run(None, {model.input_name: x})

    def batched() -> object:
        return model.infer(x)

    return timed(bare, repeat), timed(batched, repeat)


def latency_rows(service: InferenceService, repeat: int) -> list[list[str]]:
    """Section 2: batch-1 latency, bare session vs through the micro-batcher (2 ms max queue delay)."""
    rows = []
    for (name, _), model in sorted(service.models.items()):
        x = (
            np.full((1, 1, *model.spec.image.size), 0.5, dtype=np.float32)
            if model.spec.image
            else np.array([model.spec.reference_input], dtype=np.float32)
        )
        bare, batched = latency_pair(model, x, repeat)
        rows.append(
            [name, f"{pct(bare, 50):.0f}", f"{pct(bare, 99):.0f}", f"{pct(batched, 50):.0f}", f"{pct(batched, 99):.0f}"]
        )
    return rows


def throughput(
    service: InferenceService, max_batch: int, max_delay_s: float, clients: int, per_client: int
) -> tuple[float, float]:
    """(requests/s, mean rows per executed batch) for concurrent single-row clients of post-mi-mortality."""
    model = service.models[("post-mi-mortality", "1")]
    sizes: list[int] = []
    lock = threading.Lock()

    def observe(rows: int, _delay: float) -> None:
        with lock:
            sizes.append(rows)

    def run(x: Any) -> list[Any]:
        return [np.asarray(o) for o in model.session.run(model.output_names, {model.input_name: x})]

    batcher = MicroBatcher(run, max_batch, max_delay_s, observe, "bench")
    x = np.array([model.spec.reference_input], dtype=np.float32)

    def client() -> None:
        for _ in range(per_client):
            batcher.submit(x).result()

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client) for _ in range(clients)]:
            f.result()
    elapsed = time.perf_counter() - start
    batcher.close()
    return clients * per_client / elapsed, float(np.mean(sizes))


def throughput_rows(service: InferenceService, per_client: int) -> list[list[str]]:
    """Section 3: batching off (max batch 1) vs on (max batch 64, 2 ms) at 1 and 16 concurrent clients.

    Each configuration runs three times; the row shows the median rate and the range.
    """
    rows = []
    for clients in (1, 16):
        for label, max_batch, delay in (("off (max batch 1)", 1, 0.0), ("on (max batch 64, 2 ms)", 64, 0.002)):
            runs = sorted(throughput(service, max_batch, delay, clients, per_client) for _ in range(3))
            rates = sorted(r for r, _ in runs)
            rows.append(
                [str(clients), label, f"{rates[1]:,.0f}", f"{rates[0]:,.0f}–{rates[2]:,.0f}", f"{runs[1][1]:.1f}"]
            )
    return rows


def batching_note(rows: list[list[str]]) -> str:
    """One sentence comparing batched and unbatched median rates at 16 clients, from the measured rows."""
    rate = {r[1].split()[0]: float(r[2].replace(",", "")) for r in rows if r[0] == "16"}
    return (
        f"At 16 clients batching changes the median rate by {rate['on'] / rate['off']:.2f}× (on/off). The models "
        "cost tens of microseconds per call on one CPU thread, the same order as the per-request Python work "
        "(futures, thread hand-off, the GIL), so the gain is bounded and rates vary between runs on this shared "
        "host; batching matters more where each call has a large fixed cost (GPU execution, larger models), "
        "which is not measured here."
    )


def record(now: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A synthetic post-MI inpatient: 48 h of hourly vitals (336 Observations), BMI, ACVPU, four Conditions."""

    def obs(i: int, code: str, value: float, unit: str, hours_ago: int) -> dict[str, Any]:
        when = datetime.fromtimestamp(now.timestamp() - hours_ago * 3600, UTC).isoformat()
        return {
            "resourceType": "Observation",
            "id": f"o{i}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        }

    vitals = [
        ("8867-4", 88, "/min"),
        ("8480-6", 128, "mm[Hg]"),
        ("8462-4", 76, "mm[Hg]"),
        ("9279-1", 18, "/min"),
        ("59408-5", 95, "%"),
        ("3150-0", 21, "%"),
        ("8310-5", 37.2, "Cel"),
    ]
    resources = [obs(h * 10 + j, c, v, u, h) for h in range(48) for j, (c, v, u) in enumerate(vitals)]
    resources.append(obs(9999, "39156-5", 28.1, "kg/m2", 200))
    sct = "http://snomed.info/sct"
    resources.append(
        {
            "resourceType": "Observation",
            "id": "avpu",
            "status": "final",
            "code": {"coding": [{"system": sct, "code": "1104441000000107"}]},
            "effectiveDateTime": resources[0]["effectiveDateTime"],
            "valueCodeableConcept": {"coding": [{"system": sct, "code": "248234008"}]},
        }
    )
    for i, (system, code) in enumerate(
        [
            ("http://hl7.org/fhir/sid/icd-10", "I21.0"),
            ("http://snomed.info/sct", "49436004"),
            ("http://hl7.org/fhir/sid/icd-10", "I50.1"),
            ("http://hl7.org/fhir/sid/icd-10", "E11.9"),
        ]
    ):
        resources.append(
            {
                "resourceType": "Condition",
                "id": f"c{i}",
                "code": {"coding": [{"system": system, "code": code}]},
                "onsetDateTime": resources[0]["effectiveDateTime"],
            }
        )
    patient = {"resourceType": "Patient", "id": "bench", "gender": "male", "birthDate": "1948-06-01"}
    return patient, resources


def suggest_row(service: InferenceService, repeat: int) -> list[str]:
    """Section 4: end-to-end suggest latency."""
    now = datetime(2025, 1, 10, 12, tzinfo=UTC)
    patient, resources = record(now)
    bundle = service.suggest(patient, resources, now)
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    samples = timed(lambda: service.suggest(patient, resources, now), repeat)
    return [
        str(len(resources)),
        f"{pct(samples, 50) / 1e3:.2f}",
        f"{pct(samples, 95) / 1e3:.2f}",
        f"{kinds.count('RiskAssessment')} RiskAssessment, {kinds.count('OperationOutcome')} OperationOutcome",
    ]


def table(header: list[str], rows: list[list[str]]) -> str:
    """GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def environment() -> str:
    """Where the figures were measured."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu}, {ort.get_device()} only, "
        f"{len(__import__('os').sched_getaffinity(0))} cores visible (shared with other work), Python "
        f"{platform.python_version()}, onnxruntime {ort.__version__} (CPUExecutionProvider, 1 intra-op thread), "
        f"torch {torch.__version__}. No GPU was available: the CUDA path is not measured."
    )


def render(repeat: int, per_client: int) -> str:
    """Run everything and return the Markdown section."""
    parity = parity_rows(repeat)
    service = InferenceService.start(MODELS, intra_op_threads=1)
    try:
        latency = latency_rows(service, repeat)
        tput = throughput_rows(service, per_client)
        suggest = suggest_row(service, max(repeat // 10, 20))
    finally:
        service.close()
    return (
        "\n\n".join(
            [
                SECTION,
                "Generated by `python bench/bench_inference.py --write BENCHMARKS.md`; medians unless stated. "
                + environment(),
                "### ONNX Runtime vs the training framework (identical held-out inputs)",
                table(
                    [
                        "Model",
                        "Framework",
                        "Rows",
                        "Framework ms (all rows)",
                        "ORT ms (all rows)",
                        "Ratio",
                        "Framework µs (1 row)",
                        "ORT µs (1 row)",
                        "Ratio",
                        "Max abs diff",
                    ],
                    parity,
                ),
                "### Batch-1 latency (µs)",
                table(
                    ["Model", "session.run p50", "session.run p99", "via micro-batcher p50", "via micro-batcher p99"],
                    latency,
                ),
                "The micro-batcher spends its 2 ms maximum queue delay only under concurrency; a lone request "
                "on an idle model is served at once, so the difference from `session.run` is the thread hand-off.",
                "### Micro-batched throughput (post-mi-mortality, single-row requests)",
                table(
                    ["Concurrent clients", "Batching", "Requests/s (median of 3)", "Range", "Mean rows per batch"], tput
                ),
                batching_note(tput),
                "### End-to-end `suggest` from FHIR resources (all tabular models)",
                table(["Resources in record", "p50 ms", "p95 ms", "Output"], [suggest]),
            ]
        )
        + "\n"
    )


def write_section(path: Path, section: str) -> None:
    """Replace (or append) the ``## Inference`` section, leaving every other section untouched."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION + "\n")
    if start < 0:
        path.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    end = text.find("\n## ", start + len(SECTION))
    rest = text[end + 1 :] if end >= 0 else ""
    path.write_text(text[:start] + section + ("\n" + rest if rest else ""))


def main() -> None:
    """Parse arguments, run, print, optionally write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    parser.add_argument("--write", type=Path, help="rewrite this file's '## Inference' section")
    args = parser.parse_args()
    section = render(repeat=40 if args.quick else 400, per_client=50 if args.quick else 400)
    print(section)
    if args.write:
        write_section(args.write, section)


if __name__ == "__main__":
    main()
