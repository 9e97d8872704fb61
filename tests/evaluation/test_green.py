"""GREEN: prompt, chat text, answer cleaning and parser against green-score's own code; loading.

The reference below re-states, from the ``green-score`` 0.0.12 sdist on PyPI (Stanford-AIMI
GREEN; MIT), ``green_score/green.py`` lines 284-294 (``compute_green``), 296-336
(``parse_error_counts``, its ``for_reward=False`` path, the one ``compute_green`` takes) and
113 (the chat template), and ``green_score/utils.py`` lines 173-185 (``clean_responses``) and
188-202 (``make_prompt``). Two answers are the published model outputs of its
``tests/test_repro.py`` (lines 40-46, the 3rd and 4th ``expected_green_score_list`` items).
The model side runs on a tiny random Llama that the test builds and saves: its answers are
garbage, which must come back as unparseable (None), never as a 0.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himed_rewards.cli.main import main
from himed_rewards.evaluation import Evaluator, evaluate
from himed_rewards.evaluation.green import (
    GREEN_MODEL,
    GreenUnavailable,
    green_chat_text,
    green_completion,
    green_prompt,
    load_green,
    parse_green,
)

# ---- the reference, re-stated ------------------------------------------------------------
CATEGORIES = ["Clinically Significant Errors", "Clinically Insignificant Errors",
              "Matched Findings"]
SUB_CATEGORIES = [
    "(a) False report of a finding in the candidate",
    "(b) Missing a finding present in the reference",
    "(c) Misidentification of a finding's anatomic location/position",
    "(d) Misassessment of the severity of a finding",
    "(e) Mentioning a comparison that isn't in the reference",
    "(f) Omitting a comparison detailing a change from a prior study",
]


def ref_parse_error_counts(text, category):  # green.py:296-336
    pattern = rf"\[{category}\]:\s*(.*?)(?:\n\s*\n|\Z)"
    category_text = re.search(pattern, text, re.DOTALL)
    sum_counts = 0
    sub_counts = [0 for i in range(6)]
    if not category_text:
        return sum_counts, sub_counts
    if category_text.group(1).startswith("No"):
        return sum_counts, sub_counts
    if category == "Matched Findings":
        counts = re.findall(r"^\b\d+\b(?=\.)", category_text.group(1))
        if len(counts) > 0:
            sum_counts = int(counts[0])
        return sum_counts, sub_counts
    sub_categories = [s.split(" ", 1)[0] + " " for s in SUB_CATEGORIES]
    matches = sorted(re.findall(r"\([a-f]\) .*", category_text.group(1)))
    if len(matches) == 0:
        matches = sorted(re.findall(r"\([1-6]\) .*", category_text.group(1)))
        sub_categories = [f"({i})" + " " for i in range(1, len(SUB_CATEGORIES) + 1)]
    for position, sub_category in enumerate(sub_categories):
        for match in range(len(matches)):
            if matches[match].startswith(sub_category):
                count = re.findall(r"(?<=: )\b\d+\b(?=\.)", matches[match])
                if len(count) > 0:
                    sub_counts[position] = int(count[0])
    return sum(sub_counts), sub_counts


def ref_compute_green(response):  # green.py:284-294
    sig_present, sig_errors = ref_parse_error_counts(response, CATEGORIES[0])
    matched_findings, _ = ref_parse_error_counts(response, CATEGORIES[2])
    if matched_findings == 0:
        return 0
    if sig_present is None or matched_findings is None:
        return None
    return matched_findings / (matched_findings + sum(sig_errors))


def ref_clean_responses(response):  # utils.py:173-185
    if "[Explanation]:" in response:
        if "<|assistant|>" in response:
            response = response.split("<|assistant|>")[-1]
        if ("[Explanation]:\n    <Explanation>\n" or "[Explanation]:\n<Explanation>") in response:  # noqa: SIM222, E501 (as written)
            response = response.split("[Explanation]:")[1]
        else:
            response = response.split("[Explanation]:")[-1]
    if "<|assistant|>" in response:
        response = response.split("<|assistant|>")[-1]
    return response.replace("</s>", "").replace("<unk>", "")


REF_TEMPLATE = (  # green.py:113
    "{% for message in messages %}\n{% if message['from'] == 'human' %}\n{{ '<|user|>\n' + "
    "message['value'] + eos_token }}\n{% elif message['from'] == 'system' %}\n{{ "
    "'<|system|>\n' + message['value'] + eos_token }}\n{% elif message['from'] == 'gpt' %}\n"
    "{{ '<|assistant|>\n'  + message['value'] + eos_token }}\n{% endif %}\n{% if loop.last "
    "and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}")

REF_PROMPT = """Objective: Evaluate the accuracy of a candidate radiology report in comparison to a reference radiology report composed by expert radiologists.

    Process Overview: You will be presented with:

    1. The criteria for making a judgment.
    2. The reference radiology report.
    3. The candidate radiology report.
    4. The desired format for your assessment.

    1. Criteria for Judgment:

    For each candidate report, determine:

    The count of clinically significant errors.
    The count of clinically insignificant errors.

    Errors can fall into one of these categories:

    a) False report of a finding in the candidate.
    b) Missing a finding present in the reference.
    c) Misidentification of a finding's anatomic location/position.
    d) Misassessment of the severity of a finding.
    e) Mentioning a comparison that isn't in the reference.
    f) Omitting a comparison detailing a change from a prior study.
    Note: Concentrate on the clinical findings rather than the report's writing style. Evaluate only the findings that appear in both reports.

    2. Reference Report:
    {text1}

    3. Candidate Report:
    {text2}

    4. Reporting Your Assessment:

    Follow this specific format for your output, even if no errors are found:
    ```
    [Explanation]:
    <Explanation>

    [Clinically Significant Errors]:
    (a) <Error Type>: <The number of errors>. <Error 1>; <Error 2>; ...; <Error n>
    ....
    (f) <Error Type>: <The number of errors>. <Error 1>; <Error 2>; ...; <Error n>

    [Clinically Insignificant Errors]:
    (a) <Error Type>: <The number of errors>. <Error 1>; <Error 2>; ...; <Error n>
    ....
    (f) <Error Type>: <The number of errors>. <Error 1>; <Error 2>; ...; <Error n>

    [Matched Findings]:
    <The number of matched findings>. <Finding 1>; <Finding 2>; ...; <Finding n>
    ```
"""  # noqa: E501  (utils.py:188-202, the f-string with its "\n    " line breaks)


def ref_make_prompt(text1, text2, max_len=300):  # utils.py:188-202
    text1 = " ".join(text1.split()[:max_len])
    text2 = " ".join(text2.split()[:max_len])
    return REF_PROMPT.replace("{text1}", text1).replace("{text2}", text2)


# ---- hand-worked answers in GREEN's format ----------------------------------------------
NONE_INSIGNIFICANT = "\n".join(f"{s}: 0." for s in SUB_CATEGORIES)
REPRO_3 = (  # test_repro.py:42, published GREEN-RadLlama2-7b output
    "\nThe candidate report has several discrepancies when compared to the reference report. "
    "The candidate report incorrectly identifies the location of the opacification, stating "
    "it is at the right base instead of the left. It also fails to mention the worsened lung "
    "volumes and the substantial volume loss in the lower lobes and pleural effusion. "
    "Furthermore, the candidate report incorrectly states that the opacification is "
    "unchanged, which contradicts the reference report's finding of worsened lung volumes."
    "\n\n[Clinically Significant Errors]:\n"
    "(a) False report of a finding in the candidate: 0.\n"
    "(b) Missing a finding present in the reference: 2. Worsened lung volumes; Substantial "
    "volume loss in the lower lobes and pleural effusion.\n"
    "(c) Misidentification of a finding's anatomic location/position: 1. Opacification at the "
    "right base instead of the left.\n"
    "(d) Misassessment of the severity of a finding: 1. Incorrectly stated that the "
    "opacification is unchanged.\n"
    "(e) Mentioning a comparison that isn't in the reference: 0.\n"
    "(f) Omitting a comparison detailing a change from a prior study: 0.\n\n"
    f"[Clinically Insignificant Errors]:\n{NONE_INSIGNIFICANT}\n\n"
    "[Matched Findings]:\n2. The monitoring and support devices are unchanged; The left lung "
    "remains clear.")
REPRO_4 = (  # test_repro.py:43
    "\nThe candidate report mentions a 10cm opacity in the right lower lobe, which is not "
    "mentioned in the reference report. This is a clinically significant error as it falsely "
    "reports a finding that is not present in the reference report. The candidate report "
    "correctly mentions that there is no evidence of new acute pneumonia, which matches the "
    "reference report's finding of no evidence of new acute infiltrates.\n\n"
    "[Clinically Significant Errors]:\n"
    "(a) False report of a finding in the candidate: 1. 10cm opacity in the right lower lobe.\n"
    "(b) Missing a finding present in the reference: 0.\n"
    "(c) Misidentification of a finding's anatomic location/position: 0.\n"
    "(d) Misassessment of the severity of a finding: 0.\n"
    "(e) Mentioning a comparison that isn't in the reference: 0.\n"
    "(f) Omitting a comparison detailing a change from a prior study: 0.\n\n"
    f"[Clinically Insignificant Errors]:\n{NONE_INSIGNIFICANT}\n\n"
    "[Matched Findings]:\n1. No evidence of new acute pneumonia.")
NO_ERRORS = ("[Explanation]:\nBoth reports describe clear lungs and a normal heart.\n\n"
             "[Clinically Significant Errors]:\nNo clinically significant errors.\n\n"
             "[Clinically Insignificant Errors]:\n(b) Missing a finding present in the "
             "reference: 1. Mild degenerative spine.\n\n"
             "[Matched Findings]:\n4. Clear lungs; Normal heart; No effusion; No pneumothorax.")
NUMBERED = ("[Clinically Significant Errors]:\n(1) False report: 2. Edema; Effusion.\n"
            "(2) Missing: 0.\n(4) Severity: 1. Mild instead of severe.\n\n"
            "[Matched Findings]:\n3. Cardiomegaly; Tubes; Lines.")
REPEATED_KIND = ("[Clinically Significant Errors]:\n(b) Missing a finding: 3. A; B; C.\n"
                 "(a) False report: 1. X.\n(b) Missing a finding: 1. D.\n\n"
                 "[Matched Findings]:\n1. Clear lungs.")
NO_MATCHES = ("[Clinically Significant Errors]:\n(a) False report: 0.\n\n"
              "[Matched Findings]:\nNone.")
CUT_OFF = ("[Explanation]:\nThe candidate misses the effusion.\n\n"
           "[Clinically Significant Errors]:\n(b) Missing a finding present in the reference: "
           "1. Effusion.")
GARBAGE = "effusion effusion ] [ 3. (a) lungs: 2."

# (answer, significant counts, matched, GREEN; None: unparseable) worked out by hand
HAND_WORKED = [
    (REPRO_3, (0, 2, 1, 1, 0, 0), 2, 2 / 6),
    (REPRO_4, (1, 0, 0, 0, 0, 0), 1, 1 / 2),
    (NO_ERRORS, (0, 0, 0, 0, 0, 0), 4, 1.0),
    (NUMBERED, (2, 0, 0, 1, 0, 0), 3, 3 / 6),
    # lines are sorted first: "(b) ...: 3." sorts after "(b) ...: 1." and wins
    (REPEATED_KIND, (1, 3, 0, 0, 0, 0), 1, 1 / 5),
    (NO_MATCHES, (0, 0, 0, 0, 0, 0), 0, 0.0),  # no matched findings: 0 by definition
    (CUT_OFF, (0, 1, 0, 0, 0, 0), None, None),
    (GARBAGE, None, None, None),
]


@pytest.mark.parametrize(("answer", "significant", "matched", "score"), HAND_WORKED)
def test_parser_on_hand_worked_answers(answer, significant, matched, score):
    assessment = parse_green(answer)
    assert assessment.significant == significant
    assert assessment.matched == matched
    if score is None:
        assert assessment.score is None and not assessment.parseable
    else:
        assert assessment.score == pytest.approx(score, abs=1e-12)
    assert assessment.reference_score == ref_compute_green(answer)  # 0 where unparseable


def test_insignificant_errors_are_parsed_but_do_not_count():
    assessment = parse_green(NO_ERRORS)
    assert assessment.insignificant == (0, 1, 0, 0, 0, 0)
    assert ref_parse_error_counts(NO_ERRORS, CATEGORIES[1])[1] == list(assessment.insignificant)
    assert assessment.score == 1.0


_FRAGMENTS = st.sampled_from([
    "[Clinically Significant Errors]:", "[Clinically Insignificant Errors]:",
    "[Matched Findings]:", "", "\n", "No errors.", "None.", "2. Edema; Effusion.", "0.",
    "(a) False report: 1. X.", "(b) Missing: 2. Y; Z.", "(c) Location: 0.", "(f) x: 3. q.",
    "(1) False: 2. A.", "(3) Loc: 1. B.", "(d)Severity: 4.", "(e) Comparison:  5. C.",
    "(b) Missing: 7", "12. A; B.", "text (a) inline: 1. here", " ", "[Explanation]:", "1a.",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=14), st.lists(st.sampled_from(["\n", " ", "\n\n"]),
                                                      min_size=14, max_size=14))
def test_parser_equals_reference_on_assembled_answers(parts, glue):
    answer = "".join(p + g for p, g in zip(parts, glue, strict=False))
    assessment = parse_green(answer)
    assert assessment.reference_score == ref_compute_green(answer)
    if assessment.significant is not None:
        assert list(assessment.significant) == ref_parse_error_counts(answer, CATEGORIES[0])[1]
    if assessment.matched is not None:
        assert assessment.matched == ref_parse_error_counts(answer, CATEGORIES[2])[0]
        assert assessment.score is None or assessment.score == assessment.reference_score


@pytest.mark.parametrize(("candidate", "reference"), [
    ("No effusion.", "Small left effusion."),
    ("Braces {text1} and {x} stay.\n\nTwo  spaces.", "word " * 350),
    ("", ""),
])
def test_prompt_and_chat_text_equal_reference(candidate, reference):
    transformers = pytest.importorskip("transformers")
    prompt = green_prompt(candidate, reference)
    assert prompt == ref_make_prompt(reference, candidate)  # make_prompt(ref, hyp)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=_byte_tokenizer(["x"]), eos_token="</s>")
    tokenizer.chat_template = REF_TEMPLATE
    rendered = tokenizer.apply_chat_template(  # green.py:203-208 and 223-226
        [{"from": "human", "value": prompt}, {"from": "gpt", "value": ""}], tokenize=False,
        add_generation_prompt=True)
    assert green_chat_text(prompt, "</s>") == rendered


@pytest.mark.parametrize("decoded", [
    "<|user|>\nP [Explanation]:\n    <Explanation>\n</s>\n<|assistant|>\n</s>\n<|assistant|>\n"
    "[Explanation]:\nFine.\n\n[Matched Findings]:\n1. A.</s>",
    "<|user|>\nP</s>\n<|assistant|>\n</s>\n<|assistant|>\n[Explanation]:\n    <Explanation>\n"
    "echo [Explanation]: two<unk>",
    "no markers at all </s>",
])
def test_answer_cleaning_equals_reference(decoded):
    assert green_completion(decoded) == ref_clean_responses(decoded)


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="answer"):
        parse_green(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="candidate"):
        green_prompt(1, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        load_green("/nonexistent", batch_size=0)


# ---- loading a real causal LM from disk -------------------------------------------------
HYPS = ["No acute disease.", "Small left pleural effusion.", "Heart size is normal."]
REFS = ["No acute cardiopulmonary process.", "Left effusion.", "Mild cardiomegaly."]


def _byte_tokenizer(texts, vocab_size=300):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


@pytest.fixture(scope="module")
def tiny_green(tmp_path_factory):
    """A one-layer random Llama and a byte-level BPE tokenizer, saved like a hub model."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny-green")
    texts = [green_chat_text(green_prompt(h, r)) for h, r in zip(HYPS, REFS, strict=True)]
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=_byte_tokenizer(texts), bos_token="<s>", eos_token="</s>",
        unk_token="<unk>")
    tokenizer.save_pretrained(folder)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    return str(folder)


TRAINED_ANSWERS = [  # what the trained tiny model must answer for the first two pairs
    ("[Clinically Significant Errors]:\n(b) Missing a finding present in the reference: 1. "
     "Acute process.\n\n[Matched Findings]:\n2. No acute disease; Normal lungs.", 2 / 3),
    ("[Explanation]:\nSame finding.\n\n[Clinically Significant Errors]:\nNo errors.\n\n"
     "[Matched Findings]:\n1. Left effusion.", 1.0),
]


@pytest.fixture(scope="module")
def trained_green(tmp_path_factory):
    """A tiny Llama trained until it gives TRAINED_ANSWERS for the first two pairs.

    It shows the whole path (chat text, tokens, greedy decoding, cleaning, parsing) on a
    model that follows GREEN's format, as the real one does.
    """
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("trained-green")
    prompts = [green_chat_text(green_prompt(h, r)) for h, r in zip(HYPS, REFS, strict=True)]
    answers = [a for a, _ in TRAINED_ANSWERS]
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=_byte_tokenizer(prompts + answers, 1500), bos_token="<s>",
        eos_token="</s>", unk_token="<unk>")
    tokenizer.save_pretrained(folder)
    eos = tokenizer.eos_token_id
    rows = []
    for prompt, answer in zip(prompts, answers, strict=False):
        # the input as load_green builds it: the chat text, then end-of-sequence
        head = tokenizer(prompt, add_special_tokens=False)["input_ids"] + [eos]
        rows.append((head, tokenizer(answer, add_special_tokens=False)["input_ids"] + [eos]))
    width = max(len(h) + len(a) for h, a in rows)
    ids = torch.full((len(rows), width), eos)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, (head, answer) in enumerate(rows):
        ids[row, :len(head) + len(answer)] = torch.tensor(head + answer)
        labels[row, len(head):len(head) + len(answer)] = torch.tensor(answer)
        mask[row, :len(head) + len(answer)] = 1
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=eos)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.005:
            break
    model.save_pretrained(folder)
    return str(folder)


def test_trained_tiny_model_gives_real_green_scores(trained_green):
    scorer = load_green(trained_green, batch_size=1)  # green-score's own 2048-token limit
    assessments = scorer.assess(HYPS[:2], REFS[:2])
    assert [a.text for a in assessments] == [green_completion(a) for a, _ in TRAINED_ANSWERS]
    assert assessments[1].text.startswith("\nSame finding.")  # after "[Explanation]:"
    assert [a.score for a in assessments] == pytest.approx([s for _, s in TRAINED_ANSWERS])
    assert [a.score for a in assessments] == [ref_compute_green(a.text) for a in assessments]
    result = Evaluator(["green"], green=scorer)(HYPS[:2], REFS[:2])
    assert result.corpus["green"] == pytest.approx(5 / 6)


def test_eval_cli_green_column(trained_green, tmp_path, capsys):
    (tmp_path / "p.txt").write_text("\n".join(HYPS[:2]) + "\n")
    (tmp_path / "r.txt").write_text("\n".join(REFS[:2]) + "\n")
    out = tmp_path / "out"
    assert main(["eval", "--predictions", str(tmp_path / "p.txt"), "--references",
                 str(tmp_path / "r.txt"), "--resamples", "20", "--quiet",
                 "--green-model", trained_green, "--output-dir", str(out)]) == 0
    captured = capsys.readouterr()
    assert "GREEN" in captured.out.splitlines()[0] and "unparseable" not in captured.err
    results = json.loads((out / "results.json").read_text())
    assert results["systems"]["p"]["green"]["value"] == pytest.approx(5 / 6)


def test_tiny_model_answers_are_unparseable_never_zero(tiny_green):
    scorer = load_green(tiny_green, batch_size=2, max_new_tokens=12)
    assessments = scorer.assess(HYPS, REFS)
    assert len(assessments) == 3
    assert any(a.text.strip() for a in assessments)  # the model did generate
    assert all(not a.parseable and a.score is None for a in assessments)
    assert [a.reference_score for a in assessments] == [0.0] * 3  # green-score's silent 0
    assert scorer(HYPS, REFS) == [None, None, None]
    # the input the model saw ends with the generation prompt and end-of-sequence token
    batch = scorer.tokenizer([green_chat_text(green_prompt(HYPS[0], REFS[0]))])
    assert batch["input_ids"][0][-1] == scorer.tokenizer.eos_token_id  # add_eos_token=True


def test_evaluator_and_evaluate_keep_unparseable_as_none(tiny_green):
    scorer = load_green(tiny_green, batch_size=3, max_new_tokens=4)
    result = Evaluator(["green", "rougeL"], green=scorer)(HYPS, REFS)
    assert result.per_sample["green"] == [None, None, None]
    assert result.corpus["green"] is None  # undefined, not 0
    assert result.records()[0]["green"] is None
    parsed = [0.5, None, 1.0]
    table = evaluate({"m": HYPS}, REFS, n_resamples=20, green=lambda c, r: parsed,
                     green_info={"model": "stub of parsed scores"})
    assert table.scores["m"]["green"].value == pytest.approx(0.75)  # mean of the parsed two
    assert table.per_sample["m"]["green"] == parsed
    assert table.signature["green"] == {"model": "stub of parsed scores"}
    with pytest.raises(ValueError, match="green=load_green"):
        Evaluator(["green"])


def test_eval_cli_green_column_and_unparseable_count(tiny_green, tmp_path, capsys):
    (tmp_path / "p.txt").write_text("\n".join(HYPS) + "\n")
    (tmp_path / "r.txt").write_text("\n".join(REFS) + "\n")
    out = tmp_path / "out"
    assert main(["eval", "--predictions", str(tmp_path / "p.txt"), "--references",
                 str(tmp_path / "r.txt"), "--resamples", "20", "--quiet",
                 "--green-model", tiny_green, "--green-max-new-tokens", "6",
                 "--output-dir", str(out)]) == 0
    captured = capsys.readouterr()
    assert "3 of 3 GREEN answers are unparseable" in captured.err
    assert (out / "scores" / "p.jsonl").read_text().count('"green": null') == 3
    assert "GREEN" not in captured.out  # no column without a parseable answer
    signature = json.loads((out / "results.json").read_text())["signature"]["green"]
    assert signature["model"] == tiny_green and signature["max_new_tokens"] == 6


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    pytest.importorskip("transformers")
    with pytest.raises(GreenUnavailable, match="neither a directory"):
        load_green(str(tmp_path / "absent"))
    with pytest.raises(GreenUnavailable) as error:
        load_green(str(tmp_path))  # a directory without a model
    assert GREEN_MODEL in str(error.value) and "huggingface-cli download" in str(error.value)
    (tmp_path / "r.txt").write_text("\n".join(REFS) + "\n")
    assert main(["eval", "--predictions", str(tmp_path / "r.txt"), "--references",
                 str(tmp_path / "r.txt"), "--green-model", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert "absent" in err and GREEN_MODEL in err and err.count("\n") == 1
