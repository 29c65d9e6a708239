"""The evaluation report next to an artifact: report.json, report.md and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_report(
    directory: Path,
    report: dict,
    test_images=None,
    test_probs=None,
    test_labels=None,
    mistakes=(),
    private_dir: Path | None = None,
) -> list[Path]:
    """Report and plots into ``directory`` (shipped with the model). The grid of worst mistakes
    shows dataset photos, some with people in them, so it goes to ``private_dir`` (the run folder,
    never committed) and the shipped report names the files instead."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "report.json", directory / "report.md"]
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    written += _plots(directory, report)
    if private_dir is not None and test_images is not None and len(mistakes):
        written.append(
            mistakes_grid(Path(private_dir), report["class_names"], test_images, test_probs, test_labels, mistakes)
        )
    (directory / "report.md").write_text(markdown(report))
    return written


def markdown(r: dict) -> str:
    t, names = r["metrics"]["test"], r["class_names"]
    lines = [
        f"# Evaluation report: {r['version']}",
        "",
        *(
            [
                f"Made from `{r['made_from']}` by `python -m training.addheads`: the same backbone and pet head "
                "(the numbers below up to 'Subjects' are that model's), plus the ImageNet, human-face and people "
                "heads, measured in the sections after them.",
                "",
            ]
            if r.get("made_from")
            else []
        ),
        f"Backbone `{r['backbone']}` ({r['backbone_source']}), input {r['input_size']}px, mode `{r['mode']}`, "
        f"device {r['device']}, Keras {r['keras']} on {r['backend']}.",
        "",
        f"Data: `{r['data']['root']}` ({r['data']['layout']} layout), {r['data']['images']} images, "
        f"{r['data']['unreadable']} unreadable skipped; class balance {r['data']['balance']}.",
        f"Split (seed {r['split']['seed']}, stratified): train {r['split']['train']}, "
        f"validation {r['split']['val']}, test {r['split']['test']}.",
        "",
        "## Test split",
        "",
        "| metric | value |",
        "| --- | --- |",
        f"| accuracy | {t['accuracy']:.4f} |",
        f"| log loss (temperature-scaled) | {t['log_loss']:.4f} |",
        f"| expected calibration error | {t['ece']:.4f} |",
        f"| log loss before scaling | {r['metrics']['test_uncalibrated']['log_loss']:.4f} |",
        f"| ECE before scaling | {r['metrics']['test_uncalibrated']['ece']:.4f} |",
        f"| temperature (fitted on validation) | {r['temperature']:.3f} |",
        f"| accuracy, single view (no mirror averaging) | {r['metrics']['test_single_view']['accuracy']:.4f} |",
        f"| log loss, single view | {r['metrics']['test_single_view']['log_loss']:.4f} |",
        "",
        "Test metrics average each photo with its mirror image, as the bot serves it.",
        "",
        "Confusion matrix (rows: true, columns: predicted):",
        "",
        "| | " + " | ".join(names) + " |",
        "| --- " * (len(names) + 1) + "|",
    ]
    lines += [f"| {names[i]} | " + " | ".join(str(v) for v in row) + " |" for i, row in enumerate(t["confusion"])]
    lines += [
        "",
        "## Training",
        "",
        "| phase | epochs | seconds | images/s | val accuracy (last) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for p in r["phases"]:
        acc = p["history"].get("val_accuracy", [None])[-1] if p["history"] else None
        lines.append(
            f"| {p['name']} | {p['epochs']} | {p['seconds']:.1f} | {p['images_per_second']:.1f} | "
            f"{'' if acc is None else f'{acc:.4f}'} |"
        )
    reached = r.get("time_to_target_s")
    lines += [
        "",
        f"Total training time {r['train_seconds']:.0f} s; validation accuracy reached "
        f"{r['target_accuracy']:.1%} " + (f"after {reached:.0f} s." if reached else "never during training."),
        "",
        "![curves](curves.png) ![reliability](reliability.png)",
        "",
    ]
    if r.get("worst_mistakes"):
        lines += [
            "## Most confident mistakes",
            "",
            "A picture grid of these is in the run folder (not shipped: dataset photos, some with people).",
            "",
            "| file | true | said | confidence |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| {m['file']} | {m['true']} | {m['said']} | {m['confidence']:.1%} |" for m in r["worst_mistakes"]]
        lines.append("")
    if r.get("heads", {}).get("evaluation"):  # a rebuild measures the heads in a later stage
        lines += heads_markdown(r["heads"])
    return "\n".join(lines)


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def _spread() -> str:
    from .people import SPREAD_LOGIT

    low = round(100 / (1 + np.exp(SPREAD_LOGIT)))
    return f"{low}-{100 - low}%"


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def heads_markdown(h: dict) -> list[str]:
    """Subject decisions and the answers on people, measured as the bot answers (SelfieScorer)."""
    fit, e = h["fit"], h["evaluation"]
    pets, people, none, look = e["pets"], e["people"], e["none"], e["lookalike"]
    cols = ("person", "pet", "none")
    lines = []
    if h.get("meaning"):
        lines += ["## What a percentage means", "", h["meaning"], ""]
    lines += [
        "## Subjects: person, pet or neither",
        "",
        "Every photo read the way the bot answers it. Rows: what the photo is "
        f"(pets: the held-out test split, {pets['count']} photos; people: {people['portraits']} portraits and "
        f"{people['groups']} group photos; neither: {none['count']} sample and made images). Columns: the answer.",
        "",
        "| photo is | " + " | ".join(cols) + " |",
        "| --- | --- | --- | --- |",
    ]
    for row, counts in e["confusion"].items():
        lines.append(f"| {row} | " + " | ".join(str(counts.get(c, 0)) for c in cols) + " |")
    lines += [
        "",
        "| check | value |",
        "| --- | --- |",
        f"| pets: answered as a pet | {_pct(pets['as_pet'])} |",
        f"| pets: answered as a pet, and the right animal | {_pct(pets['right'])} |",
        f"| pets: right animal, when answered as a pet | {_pct(pets['right_when_pet'])} |",
        f"| neither: answered 'none' | {_pct(none['as_none'])} |",
        f"| people: answered as a person | {_pct(people['as_person'])} |",
    ]
    lines += [f"| people: face found, {k.replace('_', ' ')} | {_pct(v)} |" for k, v in people["found"].items()]
    lines += [
        f"| people: median puppy share | {_pct(people['puppy_median'])} |",
        f"| people: answers between 10% and 90% | {_pct(people['share_10_90'])} |",
        f"| people: told more puppy than kitty | {_pct(people['share_puppy'])} |",
        f"| people: spread between portraits (std) | {people['spread_between']:.3f} |",
        f"| people: spread of one portrait re-sent ({', '.join(people['perturbations'])}) | "
        f"{people['spread_within']:.3f} |",
        f"| people: steadiness ratio (within / between, lower is steadier) | {_num(people['steadiness_ratio'])} |",
        "",
        "## People heads",
        "",
        f"- Human-face head: {fit['human']['positives']} people's face crops against {fit['human']['negatives']} "
        f"crops of pet photos: the face finder's boxes and each photo's central square "
        f"({fit['human']['negatives_dropped_as_people']} more were pet owners' faces and were dropped); "
        f"on its own fitting data it keeps {_pct(fit['human']['fit_recall'])} "
        f"of faces and lets through {_pct(fit['human']['fit_false_rate'])} of the rest.",
        f"- Dog-like head: fitted on {fit['people']['faces']} lookalike faces (weak labels; a face was found on "
        f"{_pct(fit['people']['found'])}). Separation (AUC) on each source when fitted on the other: "
        + ", ".join(f"{k} {v:.3f}" for k, v in fit["people"]["auc_held_out_source"].items())
        + ".",
        f"- Calibration: centred on the median of {fit['calibration']['faces']} faces in "
        f"`{fit['calibration']['source']}`, "
        f"scale {fit['calibration']['scale']:.3f} (the middle 80% of those faces spread over about {_spread()}).",
        "- The lookalike answers as served (in-sample for the head; weak labels): "
        + "; ".join(
            f"{k}: AUC {v['auc']:.3f}, dog-like {v['dog_like_mean']:.2f} vs cat-like {v['cat_like_mean']:.2f}"
            for k, v in look["by_source"].items()
        )
        + ".",
        "",
    ]
    face = h.get("face_embedding")
    if face:
        lines += [
            "## The face head (a person's answer)",
            "",
            "A person's answer comes from dlib's face-recognition embedding of the face (`python -m "
            "training.face_head`), not from the backbone's dog-like head above; the tables above measure it as served.",
            "",
            "| | backbone's head | face head |",
            "| --- | --- | --- |",
            "| AUC on each source when fitted on the other | "
            + ", ".join(f"{k} {v:.3f}" for k, v in (face.get("backbone_head_auc_held_out_source") or {}).items())
            + " | "
            + ", ".join(f"{k} {v:.3f}" for k, v in face["auc_held_out_source"].items())
            + " |",
            f"| CPU per face, one core | in the forward pass | {face['cpu_ms_per_face']:.1f} ms |",
            "",
            f"Fitted on {face['faces']} lookalike faces (a face found on {_pct(face['found'])}); calibrated on "
            f"{face['calibration_faces']} faces of faces/ and lookalike/ together. Embeddings are computed in memory "
            "for one answer and never stored, logged, cached or sent.",
            "",
        ]
    return lines


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plots(directory, report) -> list[Path]:
    plt = _pyplot()

    out = []
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    epoch0 = 0
    for phase in report["phases"]:
        h = phase["history"]
        if not h:
            continue
        xs = np.arange(epoch0, epoch0 + len(h["loss"])) + 1
        for key, ax in (("loss", axes[0]), ("accuracy", axes[1])):
            ax.plot(xs, h[key], "o-", label=f"train ({phase['name']})")
            ax.plot(xs, h["val_" + key], "s--", label=f"validation ({phase['name']})")
        epoch0 += len(h["loss"])
    for ax, title in zip(axes, ("loss", "accuracy")):
        ax.set_title(title), ax.set_xlabel("epoch")
        if epoch0:
            ax.legend(fontsize=7)
        else:  # a run with zero epochs (e.g. a quick check) still gets a readable picture
            ax.text(0.5, 0.5, "no training epochs", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout(), fig.savefig(directory / "curves.png", dpi=90), plt.close(fig)
    out.append(directory / "curves.png")

    fig, ax = plt.subplots(figsize=(4, 4))
    bins = report["metrics"]["test"]["reliability"]
    ax.plot([0, 1], [0, 1], "k:", label="perfect")
    ax.plot(
        [b["confidence"] for b in bins],
        [b["accuracy"] for b in bins],
        "o-",
        label=f"test, ECE {report['metrics']['test']['ece']:.3f}",
    )
    ax.set_xlabel("confidence"), ax.set_ylabel("accuracy"), ax.legend(), ax.set_title("reliability")
    fig.tight_layout(), fig.savefig(directory / "reliability.png", dpi=90), plt.close(fig)
    out.append(directory / "reliability.png")

    return out


def mistakes_grid(directory: Path, names, images, probs, labels, mistakes) -> Path:
    plt = _pyplot()
    directory.mkdir(parents=True, exist_ok=True)
    cols = min(4, len(mistakes))
    rows = (len(mistakes) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, mistakes):
        ax.imshow(images[i])
        ax.set_title(f"true {names[labels[i]]}\nsaid {names[probs[i].argmax()]} {probs[i].max():.0%}", fontsize=8)
    fig.tight_layout(), fig.savefig(directory / "mistakes.png", dpi=70), plt.close(fig)
    return directory / "mistakes.png"
