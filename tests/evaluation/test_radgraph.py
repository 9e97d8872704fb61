"""RadGraph F1: the three reward levels against the ``radgraph`` package's definition.

The reference re-stated below is radgraph 0.1.18 (PyPI sdist, = Stanford-AIMI/radgraph):
``radgraph/rewards.py`` lines 1-52 (complete: ``exact_entity_token_if_all_match_reward``),
55-102 (partial: ``exact_entity_token_if_rel_exists_reward``), 105-150 (simple:
``exact_entity_token_match_reward``) and 153-168 (``compute_reward``: 0 when either graph
has no entities); ``radgraph/radgraph.py`` lines 198-273 (``F1RadGraph.forward``: pairs with
an empty report score 0 and are not annotated; hypotheses then references in one call;
corpus score = mean). When the package is installed, its own ``rewards.py`` is loaded and
compared too.

The annotator is the package's ``RadGraph`` class (a DyGIE++ model; its weights are not
redistributable here), so the backend tests replace that one external class by a
deterministic rule annotator with the same constructor and output, reading its lexicon from
the model directory the test writes. Everything of ours (``load_radgraph``'s checks, model
directory handling, output conversion, the metrics, Evaluator, evaluate, the CLI) is real.
Where the package runs (its dependencies installed, transformers < 5: its vendored allennlp
calls ``encode_plus``), the last test builds a tiny DyGIE++ model directory and checks our
pipeline against the package's own ``F1RadGraph`` end to end.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import random
import re
import sys
import tempfile
import types

import numpy as np
import pytest

from himed_rewards.cli.main import main
from himed_rewards.evaluation import Evaluator, evaluate
from himed_rewards.evaluation.radgraph import (
    RadgraphF1,
    RadgraphUnavailable,
    load_radgraph,
    radgraph_f1,
    radgraph_f1_batch,
)


def entity(tokens, label, *relations):
    return {"tokens": tokens, "label": label, "relations": [list(r) for r in relations]}


# "Small left pleural effusion." as RadGraph annotates it, and two hypotheses.
REFERENCE = {"entities": {
    "1": entity("small", "OBS-DP", ("modify", "4")),
    "2": entity("left", "ANAT-DP", ("modify", "3")),
    "3": entity("pleural", "ANAT-DP"),
    "4": entity("effusion", "OBS-DP", ("located_at", "3")),
}}


# --- the reference definition, re-stated (rewards.py / radgraph.py lines in the docstring)

def reference_items(graph, level):
    entities = graph["entities"]
    items = set()
    for ent in entities.values():
        if level == "simple":  # rewards.py:111-112
            items.add((ent["tokens"], ent["label"]))
            continue
        if not ent["relations"]:  # rewards.py:8-9 and 62-63
            items.add((ent["tokens"], ent["label"]))
        elif level == "partial":  # rewards.py:64-65
            items.add((ent["tokens"], ent["label"], True))
        else:  # rewards.py:10-16
            for rel in ent["relations"]:
                items.add((ent["tokens"].lower(), ent["label"], rel[0],
                           entities[rel[1]]["tokens"].lower()))
    return items


def reference_reward(hyp, ref):  # rewards.py:153-168, reward_level="all"
    if not hyp["entities"] or not ref["entities"]:
        return (0.0, 0.0, 0.0)
    out = []
    for level in ("simple", "partial", "complete"):
        h, r = reference_items(hyp, level), reference_items(ref, level)
        precision = sum(1 for x in h if x in r) / len(h) if h else 0.0  # rewards.py:22-33
        recall = sum(1 for x in r if x in h) / len(r) if r else 0.0  # rewards.py:34-45
        out.append(2 * precision * recall / (precision + recall)
                   if precision + recall > 0 else 0.0)  # rewards.py:46-50
    return tuple(out)


def random_graph(rng):
    words = ["effusion", "Effusion", "left", "pleural", "heart", "normal", "edema", "lungs"]
    labels = ["OBS-DP", "OBS-DA", "ANAT-DP", "OBS-U"]
    n = rng.randint(0, 5)
    graph = {"entities": {str(i): entity(rng.choice(words), rng.choice(labels))
                          for i in range(1, n + 1)}}
    for key, ent in graph["entities"].items():
        for _ in range(rng.randint(0, 2)):
            target = str(rng.randint(1, n))
            if target != key:
                ent["relations"].append([rng.choice(["modify", "located_at"]), target])
    return graph


def package_rewards():
    """radgraph's own rewards.py (no imports), loaded by path: its __init__ needs torch."""
    spec = importlib.util.find_spec("radgraph")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = f"{list(spec.submodule_search_locations)[0]}/rewards.py"
    module_spec = importlib.util.spec_from_file_location("radgraph_rewards_reference", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


# --- the F1 of two graphs

def test_hand_worked_levels():
    # Entity + label all right, relations missing: simple 1; partial: "small", "left",
    # "effusion" carry relations in the reference only -> 1 of 4 items shared, F1 1/4;
    # complete: reference items are 3 relation triples + (pleural, ANAT-DP): 1 of 4 shared.
    hyp = {"entities": {str(i): entity(e["tokens"], e["label"])
                        for i, e in REFERENCE["entities"].items()}}
    assert radgraph_f1(hyp, REFERENCE) == RadgraphF1(1.0, 0.25, 0.25)
    assert radgraph_f1(REFERENCE, REFERENCE) == RadgraphF1(1.0, 1.0, 1.0)
    # "Left effusion.": effusion located_at left. simple: 2 of 2 hyp items in the 4 of the
    # reference, P=1 R=1/2, F1=2/3; partial: (left, ANAT-DP) without relation vs the
    # reference's with one: 0 shared... only (effusion, OBS-DP, True) -> P=1/2 R=1/4, F1=1/3;
    # complete: (effusion, OBS-DP, located_at, left) is not in the reference
    # (effusion is located_at pleural there); (left, ANAT-DP) is not either -> 0.
    left = {"entities": {"1": entity("left", "ANAT-DP"),
                         "2": entity("effusion", "OBS-DP", ("located_at", "1"))}}
    f1 = radgraph_f1(left, REFERENCE)
    assert f1.simple == pytest.approx(2 / 3)
    assert f1.partial == pytest.approx(1 / 3)
    assert f1.complete == 0.0


def test_case_matters_except_in_relation_items():
    ref = {"entities": {"1": entity("Effusion", "OBS-DP", ("located_at", "2")),
                        "2": entity("Left", "ANAT-DP")}}
    hyp = {"entities": {"1": entity("effusion", "OBS-DP", ("located_at", "2")),
                        "2": entity("Left", "ANAT-DP")}}
    # simple and partial compare tokens as written; complete lowercases relation items
    assert radgraph_f1(hyp, ref) == RadgraphF1(0.5, 0.5, 1.0)


def test_no_entities_scores_zero_as_the_package():
    assert radgraph_f1({"entities": {}}, {"entities": {}}) == RadgraphF1(0.0, 0.0, 0.0)
    assert radgraph_f1(REFERENCE, {"entities": {}}) == RadgraphF1(0.0, 0.0, 0.0)


def test_equals_reference_definition_on_random_graphs():
    rng = random.Random(14)
    module = package_rewards()
    for _ in range(600):
        hyp, ref = random_graph(rng), random_graph(rng)
        ours = tuple(radgraph_f1(hyp, ref))
        assert ours == reference_reward(hyp, ref)
        if module is not None:  # the package's own code, when installed
            assert ours == tuple(module.compute_reward(hyp, ref, "all"))


def test_package_rewards_file_is_compared_when_installed():
    module = package_rewards()
    if module is None:
        pytest.skip("radgraph is not installed (pip install radgraph==0.1.18 --no-deps)")
    assert module.compute_reward(REFERENCE, REFERENCE, "partial") == 1.0


def test_bad_graphs_name_the_argument():
    with pytest.raises(TypeError, match="hypothesis"):
        radgraph_f1({"nodes": {}}, REFERENCE)
    with pytest.raises(TypeError, match="reference: entity '1'"):
        radgraph_f1(REFERENCE, {"entities": {"1": {"tokens": 3, "label": "OBS-DP"}}})
    with pytest.raises(ValueError, match="unknown entity"):
        radgraph_f1(REFERENCE, {"entities": {"1": entity("a", "OBS-DP", ("modify", "9"))}})


# --- the annotator: a deterministic stand-in for the package's RadGraph model class

class RuleRadGraph:
    """Same constructor and output as ``radgraph.RadGraph``; rules instead of DyGIE++.

    Lexicon from ``<model_cache_dir>/<model_type>/config.json``: anatomy words (ANAT-DP),
    observation words (OBS-DP, OBS-DA after "no"), modifiers (OBS-DP that "modify" the next
    entity of the sentence); an observation is ``located_at`` the nearest anatomy word of
    its sentence, preferring one before it.
    """

    calls: list = []

    def __init__(self, model_type=None, model_cache_dir=None, cuda=None, **kwargs):
        with open(f"{model_cache_dir}/{model_type}/config.json") as handle:
            self.lexicon = json.load(handle)["lexicon"]
        print(f"Using device: {'cpu' if cuda == -1 else cuda}")  # as the package does

    def __call__(self, reports):
        RuleRadGraph.calls.append(list(reports))
        return {str(i): self.annotate(r) for i, r in enumerate(reports)}

    def annotate(self, report):
        entities, words = {}, []
        for sentence in report.lower().split("."):
            tokens = re.findall(r"[a-z]+", sentence)
            found = [(i, w, self.lexicon[w]) for i, w in enumerate(tokens) if w in self.lexicon]
            first = len(entities) + 1  # entity ids continue across sentences
            for k, (i, word, kind) in enumerate(found):
                label = {"anatomy": "ANAT-DP", "modifier": "OBS-DP"}.get(kind, "OBS-DP")
                if kind == "observation" and "no" in tokens[:i]:
                    label = "OBS-DA"
                relations = []
                if kind == "modifier" and k + 1 < len(found):
                    relations.append(["modify", str(first + k + 1)])
                if kind == "observation":
                    anatomy = [j for j, f in enumerate(found) if f[2] == "anatomy"]
                    before = [j for j in anatomy if j < k]
                    if anatomy:
                        target = before[-1] if before else anatomy[0]
                        relations.append(["located_at", str(first + target)])
                entities[str(first + k)] = {"tokens": word, "label": label,
                                            "start_ix": len(words) + i,
                                            "end_ix": len(words) + i, "relations": relations}
            words += tokens
        return {"text": " ".join(words), "entities": entities}


LEXICON = {"heart": "anatomy", "lungs": "anatomy", "pleural": "anatomy", "left": "anatomy",
           "lobe": "anatomy", "pulmonary": "anatomy", "effusion": "observation", "edema": "observation",
           "pneumothorax": "observation", "cardiomegaly": "observation",
           "clear": "observation", "normal": "observation", "small": "modifier",
           "mild": "modifier", "large": "modifier"}
HYPS = ["Small left pleural effusion.", "Heart is normal. Lungs are clear.", "",
        "Mild edema. No pneumothorax.", "Large effusion."]
REFS = ["Left pleural effusion.", "The heart is normal in size.", "No pneumothorax.",
        "Mild pulmonary edema. No pneumothorax.", "Lungs are clear."]


@pytest.fixture
def rule_radgraph(monkeypatch, tmp_path):
    """The package's module with RuleRadGraph as its RadGraph; a model directory."""
    package = types.ModuleType("radgraph")
    package.__spec__ = importlib.machinery.ModuleSpec("radgraph", None, is_package=True)
    package.RadGraph = RuleRadGraph
    monkeypatch.setitem(sys.modules, "radgraph", package)
    RuleRadGraph.calls = []
    model_dir = tmp_path / "rules-model"  # not named after the model: linked by load_radgraph
    (model_dir / "vocabulary").mkdir(parents=True)
    (model_dir / "config.json").write_text(json.dumps({"lexicon": LEXICON}))
    (model_dir / "weights.th").write_bytes(b"")
    return str(model_dir)


def test_backend_scores_pairs_as_f1radgraph(rule_radgraph, capsys):
    annotate = load_radgraph("radgraph", rule_radgraph)
    assert "Using device" not in capsys.readouterr().out  # kept off stdout (CLI tables)
    scores = radgraph_f1_batch(HYPS, REFS, annotate)
    # radgraph.py:212-229: the empty pair is skipped; hypotheses, then references, one call
    rows = [0, 1, 3, 4]
    assert RuleRadGraph.calls == [[HYPS[i] for i in rows] + [REFS[i] for i in rows]]
    rules = RuleRadGraph(model_type="rules-model", model_cache_dir=rule_radgraph + "/..")
    for i, (h, r) in enumerate(zip(HYPS, REFS, strict=True)):
        expected = (0.0, 0.0, 0.0) if i == 2 else reference_reward(rules.annotate(h),
                                                                   rules.annotate(r))
        assert tuple(scores[i]) == expected
    # By hand, pair 3: hyp mild(OBS-DP, modify edema), edema(OBS-DP), pneumothorax(OBS-DA);
    # ref mild(OBS-DP, modify pulmonary), pulmonary(ANAT-DP), edema(OBS-DP, located_at
    # pulmonary), pneumothorax(OBS-DA). simple: 3 shared of 3 / 4 -> 6/7; partial: (mild,
    # related) and pneumothorax shared, 2 of 3 / 4 -> 4/7; complete: only pneumothorax,
    # 1 of 3 / 4 -> 2/7.
    assert scores[3].tolist() == pytest.approx([6 / 7, 4 / 7, 2 / 7])
    assert len(set(scores[:, 0])) > 1


def test_evaluator_evaluate_and_signature(rule_radgraph):
    annotate = load_radgraph("radgraph", rule_radgraph)
    scores = radgraph_f1_batch(HYPS, REFS, annotate)
    keys = ["radgraph_simple", "radgraph_partial", "radgraph_complete"]
    result = Evaluator([*keys, "rougeL"], radgraph=annotate)(HYPS, REFS)
    for column, key in enumerate(keys):
        assert result.per_sample[key] == scores[:, column].tolist()
        assert result.corpus[key] == pytest.approx(float(np.mean(scores[:, column])))
    table = evaluate({"a": HYPS, "b": REFS}, REFS, n_resamples=50, radgraph=annotate,
                     radgraph_info={"model": "rules"})
    assert table.scores["b"]["radgraph_partial"].value == 1.0  # REFS contains no empty text
    assert table.scores["a"]["radgraph_simple"].value == result.corpus["radgraph_simple"]
    assert table.labels["radgraph_complete"] == "RGF1-comp"
    assert table.signature["radgraph"] == {"model": "rules"}
    assert table.per_sample["a"]["radgraph_simple"] == result.per_sample["radgraph_simple"]


def test_eval_cli_radgraph_columns_and_per_sample(rule_radgraph, tmp_path, capsys):
    (tmp_path / "p.txt").write_text("\n".join(h or "-" for h in HYPS) + "\n")
    (tmp_path / "r.txt").write_text("\n".join(REFS) + "\n")
    out = tmp_path / "out"
    assert main(["eval", "--predictions", str(tmp_path / "p.txt"), "--references",
                 str(tmp_path / "r.txt"), "--resamples", "20", "--quiet", "--radgraph",
                 "--radgraph-dir", rule_radgraph, "--output-dir", str(out)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "RGF1-simp" in header and "RGF1-part" in header and "RGF1-comp" in header
    rows = [json.loads(line) for line in (out / "scores" / "p.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and all("radgraph_complete" in row for row in rows)
    results = json.loads((out / "results.json").read_text())
    assert results["signature"]["radgraph"]["model"] == "radgraph"


def test_missing_package_or_model_is_a_clear_error(tmp_path, capsys):
    # Whatever is installed here (no radgraph, radgraph without its dependencies, or all of
    # it), an absent model is a RadgraphUnavailable naming the model and the install.
    with pytest.raises(RadgraphUnavailable, match="pip install radgraph==") as error:
        load_radgraph("radgraph-xl", str(tmp_path / "absent"))
    assert "'radgraph-xl'" in str(error.value) and "Nothing is downloaded" in str(error.value)
    with pytest.raises(ValueError, match="model must be one of"):
        load_radgraph("chexbert")
    with pytest.raises(ValueError, match="radgraph=load_radgraph"):
        Evaluator(["radgraph_partial"])
    refs = tmp_path / "r.txt"
    refs.write_text("\n".join(REFS) + "\n")
    assert main(["eval", "--predictions", str(refs), "--references", str(refs),
                 "--radgraph", "--radgraph-dir", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert "RadGraph is unavailable" in err and err.count("\n") == 1


def test_missing_model_files_refused_before_the_package_can_download(rule_radgraph,
                                                                     tmp_path):
    empty = tmp_path / "radgraph"
    empty.mkdir()  # RadGraph would download into an empty directory
    with pytest.raises(RadgraphUnavailable, match="no config.json, vocabulary, weights.th"):
        load_radgraph("radgraph", str(empty))
    assert RuleRadGraph.calls == []


def test_the_linking_directory_is_removed_after_each_load(rule_radgraph, tmp_path,
                                                          monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.mkdir(tempfile.tempdir)
    annotate = load_radgraph("radgraph", rule_radgraph)  # linked: not named after the model
    assert os.listdir(tempfile.tempdir) == []
    assert radgraph_f1_batch(HYPS[:1], REFS[:1], annotate).shape == (1, 3)  # loaded already
    os.remove(os.path.join(rule_radgraph, "weights.th"))
    with pytest.raises(RadgraphUnavailable, match="no weights.th"):
        load_radgraph("radgraph", rule_radgraph)
    assert os.listdir(tempfile.tempdir) == []


# --- the real package on a tiny DyGIE model the test builds (needs transformers < 5)

@pytest.fixture(scope="module")
def tiny_dygie(tmp_path_factory):
    """A RadGraph model directory: a 1-layer BERT, random NER/relation heads, built as
    ``radgraph.RadGraph.__init__`` builds it (radgraph.py:107-144), weights saved."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    if int(transformers.__version__.split(".")[0]) >= 5:
        pytest.skip("radgraph 0.1.18 calls tokenizer.encode_plus, removed in transformers 5")
    pytest.importorskip("radgraph.radgraph")  # the package and dotmap, appdirs, h5py, ...
    from dotmap import DotMap
    from radgraph.allennlp.data import Vocabulary
    from radgraph.allennlp.modules import text_field_embedders, token_embedders
    from radgraph.dygie.models import dygie

    root = tmp_path_factory.mktemp("tiny-radgraph")
    bert = root / "bert"
    bert.mkdir()
    words = {w for t in HYPS + REFS for w in re.findall(r"[a-z]+|[.,]", t.lower())}
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
             *sorted(words | set("abcdefghijklmnopqrstuvwxyz0123456789"))]
    (bert / "vocab.txt").write_text("\n".join(vocab) + "\n")
    transformers.BertTokenizer(str(bert / "vocab.txt")).save_pretrained(bert)
    torch.manual_seed(0)
    transformers.BertModel(transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64)).save_pretrained(bert)
    model_dir = root / "my-radgraph"  # another name than the model type: linked
    labels = model_dir / "vocabulary"
    labels.mkdir(parents=True)
    (labels / "non_padded_namespaces.txt").write_text("*tags\n*labels\n")
    (labels / "radgraph__ner_labels.txt").write_text("\nANAT-DP\nOBS-DP\nOBS-DA\nOBS-U\n")
    (labels / "radgraph__relation_labels.txt").write_text("\nmodify\nlocated_at\nsuggestive_of\n")
    indexer = {"type": "pretrained_transformer_mismatched", "model_name": str(bert),
               "max_length": 512}
    config = {"dataset_reader": {"max_span_width": 4, "token_indexers": {"bert": indexer}},
              "model": {"type": "dygie", "embedder": {"token_embedders": {"bert": indexer}},
                        "feature_size": 8, "max_span_width": 4, "target_task": "relation",
                        "feedforward_params": {"num_layers": 1, "hidden_dims": 16,
                                               "dropout": 0.0},
                        "loss_weights": {"ner": 1.0, "relation": 1.0, "coref": 0.0,
                                         "events": 0.0},
                        "initializer": {}, "module_initializer": {},
                        "modules": {"coref": {"spans_per_word": 0.3, "max_antecedents": 10},
                                    "ner": {}, "relation": {"spans_per_word": 0.8},
                                    "events": {"trigger_spans_per_word": 0.3,
                                               "argument_spans_per_word": 0.8,
                                               "loss_weights": {"trigger": 1.0,
                                                                "arguments": 0.5}}}}}
    (model_dir / "config.json").write_text(json.dumps(config))
    model_config = DotMap(config).model
    for name in ["type", "embedder", "initializer", "module_initializer"]:
        del model_config[name]
    embedder = text_field_embedders.BasicTextFieldEmbedder({"bert": (
        token_embedders.PretrainedTransformerMismatchedEmbedder(model_name=str(bert),
                                                                 max_length=512))})
    model = dygie.DyGIE(vocab=Vocabulary.from_files(str(labels), None, None),
                        embedder=embedder, **model_config)
    for name, parameter in model.named_parameters():  # spread the scores: entities found
        if "_ner" in name or "_relation" in name:
            torch.nn.init.normal_(parameter, std=1.0)
    torch.save(model.state_dict(), model_dir / "weights.th")
    return str(model_dir)


def test_equals_f1radgraph_package_end_to_end(tiny_dygie, tmp_path):
    import os

    from radgraph import F1RadGraph

    home = tmp_path / "cache"
    home.mkdir()
    os.symlink(tiny_dygie, home / "radgraph")
    _, rewards, hyp_graphs, ref_graphs = F1RadGraph(
        reward_level="all", model_type="radgraph", model_cache_dir=str(home), cuda=-1)(
        refs=REFS, hyps=HYPS)
    assert sum(len(g["entities"]) for g in hyp_graphs + ref_graphs) > 0
    scores = radgraph_f1_batch(HYPS, REFS, load_radgraph("radgraph", tiny_dygie))
    assert scores.T.tolist() == [[float(v) for v in level] for level in rewards]
