"""The ``pre_training_bias_metrics`` / ``post_training_bias_metrics`` sections of analysis.json: the
label and every facet group collapsed to boolean indexes (:mod:`.groups`), each requested metric
computed (:mod:`.metrics`), metrics in alphabetical order, infinities as strings."""

from __future__ import annotations

import pandas as pd

from . import groups, metrics
from .dataset import Dataset
from .errors import ClarifyError


def requested(methods, known: tuple[str, ...], stage: str) -> list[str]:
    if methods is None or methods == "all":
        return sorted(known)
    if isinstance(methods, str):
        methods = [methods]
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise ClarifyError(f"Unknown {stage} bias metric(s) {unknown}; known: {sorted(known)}")
    return sorted(set(methods))


class BiasInputs:
    """The label, facets and group variable of a bias analysis, resolved against the dataset."""

    def __init__(self, config: dict, dataset: Dataset):
        frame = dataset.frame
        self.dataset = dataset
        if dataset.label is None:
            raise ClarifyError("Bias analysis needs the label: set 'label' in the analysis config")
        values = config.get("label_values_or_threshold")
        if not values:
            raise ClarifyError("Bias analysis needs 'label_values_or_threshold' in the analysis config")
        self.label_values = list(values)
        label = frame[dataset.label]
        self.label_kind = groups.column_type(label, self.label_values)
        self.label_index = groups.positive_index(label, self.label_values, self.label_kind)
        self.label_text = groups.value_text(label, self.label_values, self.label_kind)
        facets = config.get("facet")
        if not facets:
            raise ClarifyError("Bias analysis needs at least one 'facet' in the analysis config")
        columns = list(frame.columns)
        self.facets: list[tuple[str, str, pd.Series]] = []
        for facet in facets:
            spec = facet.get("name_or_index")
            if isinstance(spec, int) and not isinstance(spec, bool):
                if not 0 <= spec < len(columns):
                    raise ClarifyError(
                        f"Facet index {spec} is out of range: the dataset has {len(columns)} columns"
                    )
                name = columns[spec]
            else:
                name = str(spec)
                if name not in columns:
                    raise ClarifyError(
                        f"Facet '{name}' is not a column of the dataset. Columns: {', '.join(map(str, columns))}"
                    )
            for text, index in groups.facet_groups(frame[name], facet.get("value_or_threshold")):
                self.facets.append((name, text, index))
        group = config.get("group_variable")
        self.group = None
        if group is not None:
            if isinstance(group, int) and not isinstance(group, bool):
                group = columns[group] if 0 <= group < len(columns) else None
            if group not in columns:
                raise ClarifyError(
                    f"group_variable {config.get('group_variable')!r} is not a column of the dataset"
                )
            self.group = frame[group]

    def section(self, entries: dict[str, list]) -> dict:
        return {"label": self.dataset.label, "label_value_or_threshold": self.label_text, "facets": entries}

    def pre_training(self, methods) -> dict:
        names = requested(methods, metrics.PRE_TRAINING, "pre-training")
        entries: dict[str, list] = {}
        for facet_name, text, index in self.facets:
            values = [
                _entry(metrics.compute(n, facet=index, label=self.label_index, group=self.group))
                for n in names
            ]
            entries.setdefault(facet_name, []).append({"value_or_threshold": text, "metrics": values})
        return self.section(entries)

    def predicted_index(self, predicted: pd.Series) -> pd.Series:
        predicted = predicted.reset_index(drop=True)
        predicted.index = self.dataset.frame.index
        return groups.positive_index(predicted, self.label_values, self.label_kind, "Predicted label")

    def post_training(self, methods, predicted: pd.Series) -> dict:
        names = requested(methods, metrics.POST_TRAINING, "post-training")
        positive = self.predicted_index(predicted)
        entries: dict[str, list] = {}
        for facet_name, text, index in self.facets:
            features = self.dataset.feature_frame().drop(columns=[facet_name], errors="ignore")
            values = [
                _entry(
                    metrics.compute(
                        n,
                        facet=index,
                        label=self.label_index,
                        predicted=positive,
                        group=self.group,
                        features=features,
                    )
                )
                for n in names
            ]
            entries.setdefault(facet_name, []).append({"value_or_threshold": text, "metrics": values})
        return self.section(entries)


def _entry(entry: dict) -> dict:
    entry["value"] = metrics.json_value(entry["value"])
    return entry
