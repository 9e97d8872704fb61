"""RadGraph F1 (Jain et al., 2021; Delbrouck et al., 2022): simple, partial and complete.

An optional backend in two parts:

* **the F1 of two annotation graphs**, pure functions, exactly as the ``radgraph`` package
  (0.1.18, ``radgraph/rewards.py`` and ``F1RadGraph`` in ``radgraph/radgraph.py``) defines
  its three reward levels. A graph is ``{"entities": {id: {"tokens": str, "label": str,
  "relations": [[relation, target_id], ...]}}}``, the package's annotation format. Each
  level builds a set of items per report and takes the F1 of the two sets:

  - *simple*: ``(tokens, label)`` of every entity;
  - *partial*: ``(tokens, label)``, plus a "has a relation" flag for entities with one;
  - *complete*: ``(tokens, label)`` of entities without relations, and for each relation
    ``(tokens, label, relation, target tokens)``, tokens lowercased;

  a report with no entities, or an empty report text (never annotated), scores 0, as in
  the package (papers average these zeros into the corpus score);
* **the annotator**, :func:`load_radgraph`: the package's own ``RadGraph`` model (DyGIE++
  on a BERT), from the package's cache or a local model directory; nothing is downloaded.
  radgraph 0.1.18 needs transformers < 5 (its vendored allennlp calls ``encode_plus``).

Any object with the annotator protocol (``reports -> one graph per report``) can stand in
for the model, e.g. annotations computed elsewhere.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = ["RADGRAPH_LEVELS", "RADGRAPH_MODELS", "RadgraphF1", "RadgraphUnavailable",
           "load_radgraph", "radgraph_f1", "radgraph_f1_batch"]

#: The package's reward levels, in the order of :class:`RadgraphF1`.
RADGRAPH_LEVELS = ("simple", "partial", "complete")
#: Chest X-ray models of the ``radgraph`` package (``radgraph`` is the one of the papers'
#: RadGraph F1; the ``-xl`` models were trained on more data).
RADGRAPH_MODELS = ("radgraph", "radgraph-xl", "modern-radgraph-xl")
_INSTALL = "pip install radgraph==0.1.18 (with torch, transformers<5, dotmap, appdirs, h5py, " \
           "jsonpickle)"

#: One report's annotation graph: ``{"entities": {id: {"tokens", "label", "relations"}}}``.
Graph = Mapping[str, Mapping]
Annotator = Callable[[Sequence[str]], Sequence[Graph]]


class RadgraphF1(NamedTuple):
    """RadGraph F1 of one report pair at the package's three reward levels."""

    simple: float
    partial: float
    complete: float


class RadgraphUnavailable(RuntimeError):
    """The ``radgraph`` package or the RadGraph model is not available locally."""


def _entities(graph: object, argument: str) -> Mapping[str, Mapping]:
    """The graph's entities, checked (tokens and label strings, relations to known ids)."""
    entities = graph.get("entities") if isinstance(graph, Mapping) else None
    if not isinstance(entities, Mapping):
        raise TypeError(f"{argument} must be a dict with an 'entities' dict, got {graph!r}")
    for key, entity in entities.items():
        if not (isinstance(entity, Mapping) and isinstance(entity.get("tokens"), str)
                and isinstance(entity.get("label"), str)
                and isinstance(entity.get("relations", []), Sequence)):
            raise TypeError(f"{argument}: entity {key!r} needs 'tokens' and 'label' strings "
                            f"and a 'relations' list, got {entity!r}")
        for relation in entity.get("relations", []):
            if len(relation) < 2 or str(relation[1]) not in entities:
                raise ValueError(f"{argument}: entity {key!r} has relation {relation!r} to an "
                                 f"unknown entity")
    return entities


def _items(entities: Mapping[str, Mapping], level: str) -> set[tuple]:
    """The set a reward level compares (``radgraph/rewards.py``, one function per level)."""
    items: set[tuple] = set()
    for entity in entities.values():
        tokens, label = entity["tokens"], entity["label"]
        relations = entity.get("relations", [])
        if level == "simple" or not relations:
            items.add((tokens, label))
        elif level == "partial":
            items.add((tokens, label, True))
        else:  # complete: one item per relation, tokens lowercased (only here)
            items.update((tokens.lower(), label, relation[0],
                          entities[str(relation[1])]["tokens"].lower())
                         for relation in relations)
    return items


def _set_f1(hypothesis: set[tuple], reference: set[tuple]) -> float:
    precision = len(hypothesis & reference) / len(hypothesis) if hypothesis else 0.0
    recall = len(hypothesis & reference) / len(reference) if reference else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def radgraph_f1(hypothesis: Graph, reference: Graph) -> RadgraphF1:
    """RadGraph F1 of one annotated report pair, at the simple, partial and complete levels.

    Args:
        hypothesis: the generated report's graph (``{"entities": {...}}``, see the module).
        reference: the reference report's graph.

    Returns:
        The three F1 values; all 0 when either graph has no entities (as the package).

    Raises:
        TypeError: a graph is not in the annotation format.
        ValueError: a relation points to an entity the graph does not have.

    Examples:
        >>> ref = {"entities": {
        ...     "1": {"tokens": "effusion", "label": "OBS-DP", "relations": [["located_at", "2"]]},
        ...     "2": {"tokens": "left", "label": "ANAT-DP", "relations": []}}}
        >>> hyp = {"entities": {
        ...     "1": {"tokens": "effusion", "label": "OBS-DP", "relations": []},
        ...     "2": {"tokens": "left", "label": "ANAT-DP", "relations": []}}}
        >>> radgraph_f1(hyp, ref)
        RadgraphF1(simple=1.0, partial=0.5, complete=0.5)
        >>> radgraph_f1({"entities": {}}, ref)
        RadgraphF1(simple=0.0, partial=0.0, complete=0.0)
    """
    hyp, ref = _entities(hypothesis, "hypothesis"), _entities(reference, "reference")
    if not hyp or not ref:
        return RadgraphF1(0.0, 0.0, 0.0)
    return RadgraphF1(*(_set_f1(_items(hyp, level), _items(ref, level))
                        for level in RADGRAPH_LEVELS))


def radgraph_f1_batch(hypotheses: Sequence[str], references: Sequence[str],
                      annotator: Annotator) -> np.ndarray:
    """Per-sample RadGraph F1 ``(n, 3)`` (simple, partial, complete) of report pairs.

    As the package's ``F1RadGraph``: a pair with an empty report (``""``) scores 0 and is not
    annotated; the other hypotheses and references are annotated in one call.

    Args:
        hypotheses: generated reports.
        references: one reference report per hypothesis.
        annotator: ``reports -> one graph per report`` (e.g. :func:`load_radgraph`).

    Returns:
        One row per pair, columns in :data:`RADGRAPH_LEVELS` order.

    Raises:
        ValueError: the lists differ in length, or the annotator returns a wrong count.

    Examples:
        >>> def annotate(reports):  # one "OBS-DP" entity per word
        ...     return [{"entities": {str(i): {"tokens": w, "label": "OBS-DP", "relations": []}
        ...                           for i, w in enumerate(r.split())}} for r in reports]
        >>> radgraph_f1_batch(["effusion edema", ""], ["effusion", "normal"], annotate).tolist()
        [[0.6666666666666666, 0.6666666666666666, 0.6666666666666666], [0.0, 0.0, 0.0]]
    """
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("hypotheses and references must be lists of reports, not str")
    if len(hypotheses) != len(references):
        raise ValueError(f"hypotheses and references must be aligned, got {len(hypotheses)} "
                         f"and {len(references)}")
    scores = np.zeros((len(hypotheses), len(RADGRAPH_LEVELS)), dtype=np.float64)
    rows = [i for i, (h, r) in enumerate(zip(hypotheses, references, strict=True))
            if len(h) and len(r)]
    if not rows:
        return scores
    graphs = list(annotator([hypotheses[i] for i in rows] + [references[i] for i in rows]))
    if len(graphs) != 2 * len(rows):
        raise ValueError(f"annotator returned {len(graphs)} graphs for {2 * len(rows)} reports")
    for k, i in enumerate(rows):
        scores[i] = radgraph_f1(graphs[k], graphs[len(rows) + k])
    return scores


def _need(what: str, model: str, model_dir: str | None) -> RadgraphUnavailable:
    where = f"the directory {model_dir!r}" if model_dir else "the radgraph package's cache"
    return RadgraphUnavailable(
        f"RadGraph is unavailable: {what}. It needs the `radgraph` package ({_INSTALL}) and "
        f"the {model!r} model in {where} (a directory with config.json, vocabulary/ and "
        f"weights.th, e.g. {model}.tar.gz of the StanfordAIMI/RRG_scorers Hugging Face repo, "
        f"extracted), plus its BERT in the Hugging Face cache. Nothing is downloaded.")


def _model_home(model: str, model_dir: str | None) -> tuple[str, bool]:
    """A ``model_cache_dir`` whose ``<model>`` subdirectory is the model (the package's
    layout), and whether it is a temporary one of ours: a ``model_dir`` of another name is
    linked into one."""
    if model_dir is None:
        from radgraph.radgraph import CACHE_DIR

        return CACHE_DIR, False
    model_dir = os.path.abspath(model_dir)
    if os.path.basename(model_dir) == model:
        return os.path.dirname(model_dir), False
    home = tempfile.mkdtemp(prefix="himed-radgraph-")
    os.symlink(model_dir, os.path.join(home, model))
    return home, True


def _construct(radgraph_class: Any, model: str, home: str, model_dir: str | None,
               use_gpu: bool) -> Any:
    """``radgraph_class`` built on the model in ``home/<model>``, or a clear error."""
    files = os.path.join(home, model)
    # RadGraph downloads into an empty or absent directory: refuse before it can.
    missing = [f for f in ("config.json", "vocabulary", "weights.th")
               if not os.path.exists(os.path.join(files, f))]
    if missing:
        raise _need(f"no {', '.join(missing)} in {files!r}", model, model_dir)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # it prints the device: keep stdout clean
            return radgraph_class(model_type=model, model_cache_dir=home,
                                  cuda=0 if use_gpu else -1)
    except Exception as error:  # the package's own code: BERT not cached, bad files, ...
        detail = (str(error).splitlines() or [type(error).__name__])[0]
        if "encode_plus" in detail:  # radgraph 0.1.18's allennlp calls what transformers 5 removed
            detail += " (radgraph 0.1.18 needs transformers < 5)"
        raise _need(f"loading {files!r} failed: {detail}", model, model_dir) from error


def load_radgraph(model: str = "radgraph", model_dir: str | None = None, *,
                  use_gpu: bool = False) -> Annotator:
    """The ``radgraph`` package's annotator ``reports -> graphs``, or a clear error.

    Args:
        model: one of :data:`RADGRAPH_MODELS` (how reports are tokenised follows it).
        model_dir: a local model directory (``config.json``, ``vocabulary/``,
            ``weights.th``); default: the package's cache (``~/.cache/radgraph/<version>/
            <model>``), filled beforehand.
        use_gpu: run on CUDA.

    Returns:
        The annotator: one graph per report, in order.

    Raises:
        ValueError: an unknown ``model``.
        RadgraphUnavailable: the package, the model files or its BERT are missing.

    Examples:
        >>> try:
        ...     load_radgraph("radgraph", "/nonexistent/radgraph")
        ... except RadgraphUnavailable as error:
        ...     "pip install radgraph" in str(error) and "Nothing is downloaded" in str(error)
        True
    """
    if model not in RADGRAPH_MODELS:
        raise ValueError(f"model must be one of {', '.join(RADGRAPH_MODELS)}, got {model!r}")
    if importlib.util.find_spec("radgraph") is None:
        raise _need("the package is not installed", model, model_dir)
    os.environ["HF_HUB_OFFLINE"] = "1"  # never download: fail instead
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        from radgraph import RadGraph
    except ImportError as error:  # a dependency of the package is missing
        raise _need(f"{error.name} is not installed", model, model_dir) from error
    home, linked = _model_home(model, model_dir)
    try:
        annotator = _construct(RadGraph, model, home, model_dir, use_gpu)
    finally:
        # The model is read while it is built: the linking directory is not needed
        # afterwards, and an evaluation job must not leave one behind per load.
        if linked:
            shutil.rmtree(home, ignore_errors=True)

    def annotate(reports: Sequence[str]) -> list[Graph]:
        result = annotator(list(reports))
        missing = [str(i) for i in range(len(reports)) if str(i) not in result]
        if missing:  # the package skips a report it fails on (and prints why)
            raise RuntimeError(f"RadGraph returned no graph for report(s) {missing[:5]}")
        return [result[str(i)] for i in range(len(reports))]

    return annotate
