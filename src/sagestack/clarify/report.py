"""The human-readable reports next to analysis.json: ``<name>.ipynb`` (markdown cells, no code to run)
and ``<name>.html``, built from the analysis result. (Clarify also writes a PDF; sagestack does not.)"""

from __future__ import annotations

import html
import json
from pathlib import Path

DEFAULT_TITLE = "SageMaker Analysis Report"


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "n/a" if value is None else str(value)


def sections(analysis: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(heading, column names, rows) for every table of the report."""
    tables = []
    for key, title in (
        ("pre_training_bias_metrics", "Pre-training bias metrics"),
        ("post_training_bias_metrics", "Post-training bias metrics"),
    ):
        section = analysis.get(key)
        if not section:
            continue
        rows = []
        for facet, entries in section["facets"].items():
            for entry in entries:
                for metric in entry["metrics"]:
                    rows.append(
                        [
                            facet,
                            entry["value_or_threshold"],
                            metric["description"],
                            _value(metric.get("value")),
                            metric.get("error", ""),
                        ]
                    )
        heading = f"{title} (label {section['label']}, positive: {section['label_value_or_threshold']})"
        tables.append((heading, ["Facet", "Value or threshold", "Metric", "Value", "Error"], rows))
    for label, result in ((analysis.get("explanations") or {}).get("kernel_shap") or {}).items():
        ranked = sorted(result["global_shap_values"].items(), key=lambda kv: -abs(kv[1]))
        tables.append(
            (
                f"Feature attributions (Kernel SHAP) for {label}; expected value {_value(result['expected_value'])}",
                ["Feature", "Global SHAP value"],
                [[f, _value(v)] for f, v in ranked],
            )
        )
    for entry in analysis.get("pdp") or []:
        if "error" in entry:
            tables.append((f"Partial dependence of {entry['feature_name']}", ["Error"], [[entry["error"]]]))
            continue
        headers = ["Feature value", "Data share"] + [f"Prediction ({h})" for h in entry["label_headers"]]
        rows = [
            [_value(v), _value(entry["data_distribution"][i])]
            + [_value(p[i]) for p in entry["model_predictions"]]
            for i, v in enumerate(entry["feature_values"])
        ]
        tables.append((f"Partial dependence of {entry['feature_name']}", headers, rows))
    return tables


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    def clean(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(clean, columns)) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(map(clean, row)) + " |" for row in rows]
    return "\n".join(lines)


def notebook(title: str, analysis: dict) -> dict:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": [f"# {title}\n"]}]
    for heading, columns, rows in sections(analysis):
        cells.append(
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": [f"## {heading}\n\n", markdown_table(columns, rows)],
            }
        )
    return {
        "cells": cells,
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def html_page(title: str, analysis: dict) -> str:
    parts = [
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for heading, columns, rows in sections(analysis):
        parts.append(f"<h2>{html.escape(heading)}</h2><table><tr>")
        parts.extend(f"<th>{html.escape(c)}</th>" for c in columns)
        parts.append("</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(output: Path, report_config: dict, analysis: dict) -> list[Path]:
    name = report_config.get("name") or "report"
    title = report_config.get("title") or DEFAULT_TITLE
    notebook_path, html_path = output / f"{name}.ipynb", output / f"{name}.html"
    notebook_path.write_text(json.dumps(notebook(title, analysis), indent=1))
    html_path.write_text(html_page(title, analysis))
    return [notebook_path, html_path]
