"""The results table of ``docs/benchmarks.md``, made from results.json: it replaces what lies
between the ``results`` markers and leaves the rest of the page (the profile's findings) alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["START", "END", "render", "write_table"]

START = "<!-- results:start (written by benchmarks/run.py; do not edit by hand) -->"
END = "<!-- results:end -->"

#: issue 16's goals for modelboard's ratio to untracked
GOALS = {
    ("torch", "modelboard"): 1.02,
    ("keras", "modelboard"): 1.03,
    ("torch", "modelboard_nograd"): 1.01,
    ("keras", "modelboard_nograd"): 1.01,
}


def _spread(s: dict[str, Any], fmt: str = "{:.3f}") -> str:
    text = f"{fmt.format(s['min'])}-{fmt.format(s['max'])}"
    if "q1" in s:
        text += f" (IQR {fmt.format(s['q1'])}-{fmt.format(s['q3'])})"
    return text


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _goal(framework: str, name: str, median: float) -> str:
    goal = GOALS.get((framework, name))
    if goal is None:
        return ""
    if median <= goal:
        return f"<= {goal:.2f}: met"
    return f"<= {goal:.2f}: missed by {median - goal:.3f}"


def _overhead(figure: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    titles = {"torch": "PyTorch loop", "keras": "Keras `fit`"}
    for framework, result in figure.items():
        title = titles.get(framework, framework)
        if result.get("status") != "ok":
            lines += [f"**{title}**: {result.get('status')}: {result.get('reason')}", ""]
            continue
        steps = result.get("steps_per_loop") or result.get("steps_per_fit")
        lines += [
            f"**{title}**: basic_cnn on the digits, {_n(result['epochs'], 'epoch')}, {steps} Adam "
            f"steps, batch 32; {_n(result['rounds'], 'round')}, ratio to untracked in the same "
            "round (wall time; CPU: the process's CPU time, all its threads).",
            "",
            "| variant | median ratio | spread | median s | CPU ratio (median) | goal |",
            "|---|---|---|---|---|---|",
        ]
        for name, entry in result["variants"].items():
            label = entry.get("label", name)
            if entry.get("status") != "ok":
                lines.append(f"| {label} | {entry.get('reason')} | | | | |")
                continue
            bold = "**" if name.startswith("modelboard") else ""
            cpu = entry.get("cpu")
            lines.append(
                f"| {label} | {bold}{entry['median']:.3f}{bold} | {_spread(entry)} | "
                f"{entry['seconds']['median']:.3f} | {cpu['median']:.3f} | "
                f"{_goal(framework, name, entry['median'])} |"
            )
        extras = [
            f"{name}: {entry[key]} captures"
            for name, entry in result["variants"].items()
            for key in ("captures_per_run", "captures_in_all_fits")
            if entry.get(key) is not None
        ]
        if extras:
            lines += ["", "Gradient captures recorded: " + "; ".join(extras) + "."]
        if result.get("tensorflow_imported") is not None:
            lines += [
                "",
                f"TensorFlow imported in the PyTorch process: {result['tensorflow_imported']}.",
            ]
        lines.append("")
    return lines


def _throughput(figure: dict[str, Any]) -> list[str]:
    if figure.get("status") == "failed":
        return [f"failed: {figure['reason']}", ""]
    lines = [
        f"{figure['keys']} keys a step; {_n(figure['rounds'], 'round')}, each measurement a fresh "
        "process, ratio to raw sqlite3 of the same round.",
        "",
        "| variant | points | points/s (median) | ratio to raw sqlite3 | spread of the ratio |",
        "|---|---|---|---|---|",
    ]
    for name, entry in figure["variants"].items():
        label = entry.get("label", name)
        if entry.get("status") != "ok":
            lines.append(f"| {label} | {entry.get('reason')} | | | |")
            continue
        ratio = entry.get("ratio_to_sqlite_raw")
        bold = "**" if name == "modelboard" else ""
        lines.append(
            f"| {label} | {entry['points']:,} | {bold}{entry['points_per_s']['median']:,.0f}{bold}"
            f" | {ratio['median']:.2f} | {_spread(ratio, '{:.2f}')} |"
            if ratio
            else f"| {label} | {entry['points']:,} | {entry['points_per_s']['median']:,.0f} | | |"
        )
    return [*lines, ""]


def _scale(figure: dict[str, Any]) -> list[str]:
    if figure.get("status") == "failed":
        return [f"failed: {figure['reason']}", ""]
    lines = [
        f"Median of {figure['repeats']} after a first call.",
        "",
        "| backend | runs | store built in | top 50, median (first) | whole-store read |",
        "|---|---|---|---|---|",
    ]
    for backend, entry in figure["backends"].items():
        if entry.get("status") != "ok":
            lines.append(f"| {backend} | | | {entry.get('reason')} | |")
            continue
        for runs, row in entry["sizes"].items():
            if row.get("status") == "failed":
                lines.append(f"| {backend} | {int(runs):,} | | failed: {row['reason']} | |")
                continue
            top, whole = row["top50"], row["whole_store"]
            whole_text = (
                ", ".join(
                    f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in whole.items()
                    if k != "status"
                )
                if whole.get("status") == "ok"
                else whole.get("reason", "")
            )
            lines.append(
                f"| {backend} | {int(runs):,} | {row['build_s']:.0f} s | "
                f"{top['median_s'] * 1000:.1f} ms ({top['first_s'] * 1000:.1f} ms) | {whole_text} |"
            )
    return [*lines, ""]


def _startup(figure: dict[str, Any]) -> list[str]:
    if figure.get("status") == "failed":
        return [f"failed: {figure['reason']}", ""]
    lines = [
        f"Each a fresh interpreter, {_n(figure['rounds'], 'round')}, rotated; over a bare "
        "interpreter start of the same round.",
        "",
        "| what | median s | over bare start, median s | spread of that |",
        "|---|---|---|---|",
    ]
    for name, entry in figure["variants"].items():
        label = entry.get("label", name)
        if entry.get("status") != "ok":
            lines.append(f"| {label} | {entry.get('reason')} | | |")
            continue
        over = entry["over_bare_s"]
        lines.append(
            f"| {label} | {entry['seconds']['median']:.3f} | {over['median']:.3f} | "
            f"{_spread(over)} |"
        )
    return [*lines, ""]


def _memory(figure: dict[str, Any]) -> list[str]:
    if figure.get("status") == "failed":
        return [f"failed: {figure['reason']}", ""]
    lines = [
        "Peak resident memory (`VmHWM` on Linux, else `ru_maxrss`) of a fresh process.",
        "",
        "| what | peak MiB | after `import modelboard` MiB | added MiB |",
        "|---|---|---|---|",
    ]
    for name, entry in figure.items():
        label = entry.get("label", name)
        if entry.get("status") != "ok":
            lines.append(f"| {label} | {entry.get('reason')} | | |")
            continue
        lines.append(
            f"| {label} | {entry['peak_mib']:.0f} | {entry['after_import_mib']:.0f} | "
            f"{entry['added_mib']:.0f} |"
        )
    return [*lines, ""]


SECTIONS = {
    "overhead": ("1. Training overhead", _overhead),
    "throughput": ("2. Logging throughput", _throughput),
    "scale": ("3. Scale", _scale),
    "startup": ("4. Start-up", _startup),
    "memory": ("5. Peak memory", _memory),
}


def render(results: dict[str, Any]) -> str:
    """The markdown of one run's tables, markers included."""
    meta = results["meta"]
    machine = meta["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    missing = ", ".join(k for k, v in meta["versions"].items() if not v)
    lines = [
        START,
        f"### Run of {meta['date']}"
        + (" (smoke: tiny sizes, not figures)" if meta["smoke"] else ""),
        "",
        f"Command: `{meta['command']}` ({meta.get('seconds', 0):.0f} s).",
        f"Machine: {machine['cpu_count']} CPUs, {machine['cpu_model']}, "
        f"{machine['memory_gib']} GiB, {machine['platform']}; Python {meta['python']}.",
        f"Versions: {versions}" + (f"; not installed: {missing}." if missing else "."),
        f"Load average at start {meta['load_average_start']}, at end "
        f"{meta.get('load_average_end')}.",
        "",
    ]
    for partial in meta.get("partial_runs", []):
        lines += [
            f"Re-measured {partial['date']}: {', '.join(partial['figures'])} "
            f"(`{partial['command']}`"
            + (", measured under load" if partial.get("under_load") else "")
            + ").",
            "",
        ]
    if meta.get("under_load"):
        lines += [
            "**Measured under load**: other work ran on this machine; the spread is wide and the "
            "medians are a sign, not a verdict.",
            "",
        ]
    for key, (title, make) in SECTIONS.items():
        if key in results["figures"]:
            lines += [f"#### {title}", "", *make(results["figures"][key])]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_table(path: Path, results: dict[str, Any]) -> None:
    """Put the run's tables into ``path`` between the markers (the page is made if missing)."""
    table = render(results)
    text = path.read_text() if path.exists() else "# Benchmarks\n\n" + START + "\n" + END + "\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + table + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + table
    path.write_text(text)
