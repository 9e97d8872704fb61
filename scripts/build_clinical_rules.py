#!/usr/bin/env python3
"""Build the offline clinical labeler's rule table from the shipped vocabularies.

Reads (read-only) ``../shared/data/vocab/`` and writes
``himed_rewards/data/clinical/rules.json`` plus ``himed_rewards/data/clinical/NOTICE``.
The package never reads ``../shared`` at run time: it only loads the JSON written here.

Sources and what is taken from each:

* CheXpert labeler (MIT): mention / unmention phrases per observation.
* NegEx trigger lists (Apache-2.0): negation (PREN/POST), possibility (PREP/POSP),
  pseudo-triggers (PSEU) and scope terminators (CONJ); hypothetical triggers.
* medspacy ConText rules (MIT): literal, category and direction of every rule.
* CheXpert / NegBio Semgrex patterns (MIT / public domain): these need a dependency
  parser, which we do not ship, so each pattern is translated by hand into surface
  triggers (``SEMGREX_TRANSLATIONS``). Every translated lemma is checked to occur in the
  pattern file it claims to come from, so the provenance stays verifiable.
* Hand additions (``HAND_*`` below), each with the reason it exists.

Usage::

    python scripts/build_clinical_rules.py [--vocab ../shared/data/vocab] [--check]

``--check`` rebuilds in memory and exits 1 if the committed JSON differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "himed_rewards" / "data" / "clinical"
DEFAULT_VOCAB = ROOT.parent / "shared" / "data" / "vocab"

FINDINGS = (
    "no_finding", "enlarged_cardiomediastinum", "cardiomegaly", "lung_opacity", "lung_lesion",
    "mass", "nodule", "infiltration", "edema", "consolidation", "pneumonia", "atelectasis",
    "pneumothorax", "pleural_effusion", "pleural_thickening", "pleural_other", "fracture",
    "support_devices", "emphysema", "fibrosis", "hernia",
)  # fmt: skip
OTHER = "_other"  # an abnormality outside the 21 findings: blocks no_finding, never reported

# CheXpert phrases are matched as prefixes in the original labeler ("atelecta" matches
# "atelectasis", "atelectatic"). Whole words here match whole (normalised) words only, so
# the phrases that are clearly word stems are listed and match any word they start.
CHEXPERT_STEMS = {
    "atelecta", "consolidat", "opaci", "degenera", "calcifi", "hyperinflat", "inflam",
    "prominen", "atherosclero", "arthroplast", "reticula",
}  # fmt: skip

# CheXpert's observations split into the NIH ChestX-ray14 findings they contain. A
# "nodular opacity / density" describes the shape of an opacity, not a nodule: it stays a
# CheXpert lung lesion but is not an NIH Nodule.
# phrase -> findings (replaces the default "phrase -> its CheXpert observation").
CHEXPERT_SPLITS = {
    "mass": ["mass", "lung_lesion"],
    "nodule": ["nodule", "lung_lesion"],
    "nodular density": ["lung_lesion"],
    "nodular densities": ["lung_lesion"],
    "nodular opacity": ["lung_lesion"],
    "nodular opacities": ["lung_lesion"],
    "nodular opacification": ["lung_lesion"],
    "infiltrate": ["infiltration", "lung_opacity"],
    "infiltration": ["infiltration", "lung_opacity"],
    "pleural thickening": ["pleural_thickening", "pleural_other"],
    # CheXpert files "fibrosis" under Pleural Other; NIH's Fibrosis is pulmonary fibrosis.
    "fibrosis": ["fibrosis"],
    "fibrothorax": ["fibrosis", "pleural_other"],
    # CheXpert's No Finding list holds other abnormalities; two of them are NIH findings.
    "emphysema": ["emphysema"],
    "hernia": ["hernia"],
}

# CheXpert "mention" phrases for heart and mediastinum name the anatomy, not the finding:
# "heart size is normal" must not count as cardiomegaly. They only count when an
# enlargement word qualifies them (see QUALIFIERS) or when a trigger negates them.
ANATOMICAL = {
    "the heart", "heart size", "cardiac size", "cardiac shadow", "cardiac contour",
    "cardiac silhouette", "mediastinum", "cardiomediastinum", "contour",
    "mediastinal configuration", "mediastinal silhouette", "pericardial silhouette",
    "cardiac silhouette and vascularity",
}  # fmt: skip

# Hand additions: phrase -> (findings, anatomical?). Why each exists is in the comment.
HAND_MENTIONS: dict[str, tuple[list[str], bool]] = {
    # NIH findings that CheXpert has no observation for.
    "emphysem": (["emphysema"], False),  # stem: "emphysematous changes"
    "fibrotic": (["fibrosis"], False),
    "fibronodular": ([OTHER], False),  # apical fibronodular scarring: a scar, no NIH finding
    "pulmonary fibrosis": (["fibrosis"], False),
    "hiatal hernia": (["hernia"], False),
    "hiatus hernia": (["hernia"], False),
    "infiltrat": (["infiltration", "lung_opacity"], False),  # stem: "infiltrative", plural
    "thickening of the pleura": (["pleural_thickening", "pleural_other"], False),
    "pleural based thickening": (["pleural_thickening", "pleural_other"], False),
    "pleural parenchymal thickening": (["pleural_thickening", "pleural_other"], False),
    "pleuroparenchymal thickening": (["pleural_thickening", "pleural_other"], False),
    # An apical cap is apical pleural thickening; the fissures are pleura.
    "apical capping": (["pleural_thickening", "pleural_other"], False),
    "apical cap": (["pleural_thickening", "pleural_other"], False),
    "pleural capping": (["pleural_thickening", "pleural_other"], False),
    "apical pleural capping": (["pleural_thickening", "pleural_other"], False),
    "fissural thickening": (["pleural_thickening", "pleural_other"], False),
    "thickening of the fissure": (["pleural_thickening", "pleural_other"], False),
    "fissure thickening": (["pleural_thickening", "pleural_other"], False),
    # Common report wording for the same CheXpert observations.
    "cardiomediastinal silhouette": (["enlarged_cardiomediastinum", "cardiomegaly"], True),
    "cardiomediastinal contour": (["enlarged_cardiomediastinum", "cardiomegaly"], True),
    "mediastinal contour": (["enlarged_cardiomediastinum"], True),
    "heart": (["cardiomegaly"], True),
    "cardiac": (["cardiomegaly"], True),
    "widened mediastinum": (["enlarged_cardiomediastinum"], False),
    "mediastinal widening": (["enlarged_cardiomediastinum"], False),
    "pneumonitis": (["pneumonia"], False),
    "airspace opacity": (["lung_opacity"], False),
    "air space opacity": (["lung_opacity"], False),
    "pneumothoraces": (["pneumothorax"], False),
    "pleural fluid": (["pleural_effusion"], False),
    "sternotomy wire": (["support_devices"], False),
    "wire": (["support_devices"], False),
    "clip": (["support_devices"], False),
    "stent": (["support_devices"], False),
    # Tube abbreviations (the device position attributes need to find the device).
    "ett": (["support_devices"], False),
    "et tube": (["support_devices"], False),
    "endotracheal": (["support_devices"], False),
    "ng tube": (["support_devices"], False),
    "nasogastric": (["support_devices"], False),
    "enteric tube": (["support_devices"], False),
    # Other abnormalities (CheXpert's No Finding list misses these common ones).
    "spondylosis": ([OTHER], False),
    "tortuous": ([OTHER], False),
    "tortuosity": ([OTHER], False),
    "ectatic": ([OTHER], False),
    "ectasia": ([OTHER], False),
    "low lung volume": ([OTHER], False),
    "hypoinflation": ([OTHER], False),
    "hypoinflated": ([OTHER], False),
    "hyperaerated": ([OTHER], False),
    "hyperexpanded": ([OTHER], False),
    "osteophyte": ([OTHER], False),
    "lymphadenopathy": ([OTHER], False),
    # Paraphrases radiologists use for the same observations (RadJudge "paraphrase
    # robustness"; each checked against the IU X-ray reports for false hits).
    "fluid collection": (["pleural_effusion"], False),  # "pleural fluid collection"
    "fluid collections": (["pleural_effusion"], False),
    "collapse": (["atelectasis"], False),  # "lung base collapse", "lobar collapse"
    "shadowing": (["lung_opacity"], False),  # "airspace shadowing" (British usage)
    "fluid overload": (["edema"], False),
}

# Judge-only concepts ("x:<name>"), hand-built: abnormalities outside the 21 findings that
# the judge compares by name (so "aortic aneurysm" against "widened mediastinum" is not a
# perfect match). Each phrase also blocks no_finding (it carries OTHER), and label_report
# never returns these names. phrase -> anatomical? (anatomical phrases need an enlargement
# word nearby, as "heart size" does: "enlarged hilar lymph nodes").
JUDGE_CONCEPTS: dict[str, dict[str, bool]] = {
    "x:lymphadenopathy": {"lymphadenopathy": False, "adenopathy": False, "lymph node": True,
                          "hilar contour": True, "hilum": True, "hila": True},
    "x:aortic_aneurysm": {"aneurysm": False, "aortic aneurysm": False, "aneurysmal": False},
    "x:pneumomediastinum": {"pneumomediastinum": False},
    "x:pneumoperitoneum": {"pneumoperitoneum": False, "free air": False},
    "x:granuloma": {"granuloma": False, "granulomatous disease": False,
                    "granulomatous infection": False},
    "x:hyperinflation": {"hyperinflat": False, "hyperinflation": False, "hyperexpansion": False,
                         "hyperexpanded": False, "hyperaerated": False, "copd": False},
    "x:degenerative_spine": {"degenera": False, "spondylosis": False, "osteophyte": False,
                             "osteophytosis": False, "arthropathy": False},
    "x:spine_curvature": {"kyphosis": False, "scoliosis": False, "dextrocurvature": False,
                          "levocurvature": False, "dextroscoliosis": False,
                          "levoscoliosis": False},
    "x:osteopenia": {"osteopenia": False, "osteodystrophy": False},
    "x:deformity": {"deformity": False},
    "x:congestion": {"vascular congestion": False, "pulmonary congestion": False,
                     "vascular prominence": False, "cephalization": False,
                     "indistinctness": False},
    "x:interstitial_markings": {"interstitial markings": False, "reticula": False},
    "x:diaphragm_elevation": {"elevation": False, "eventration": False},
    "x:pericardial_effusion": {"pericardial effusion": False},
    "x:metastasis": {"metastasis": False},
    "x:tortuous_aorta": {"tortuous": False, "tortuosity": False, "ectatic": False,
                         "ectasia": False},
    "x:calcification": {"calcifi": False, "atherosclero": False},
    "x:low_lung_volume": {"low lung volume": False, "hypoinflation": False,
                          "hypoinflated": False},
    "x:scarring": {"scarring": False},
    # A lucency is a sign, not a diagnosis: at the apex the judge reads it as a possible
    # pneumothorax (clinical/judge.py, _SIGNS); elsewhere (bone, subphrenic) a minor finding.
    "x:lucency": {"lucency": False, "lucencies": False},
}  # fmt: skip
# Incidental, chronic findings: the judge still compares them, but a report that has only
# these (and says the rest is normal) is a normal study for the judge's no_finding, as a
# radiologist's "no acute disease" impression treats it. label_report keeps CheXpert's
# stricter No Finding.
MINOR_CONCEPTS = [
    "x:granuloma", "x:degenerative_spine", "x:calcification", "x:tortuous_aorta",
    "x:scarring", "x:hyperinflation", "x:low_lung_volume", "x:spine_curvature", "x:osteopenia",
    "x:deformity", "x:diaphragm_elevation",
]  # fmt: skip
# An aneurysm of the thoracic aorta widens the mediastinal contour (CheXpert's enlarged
# cardiomediastinum), so a report that only says "widened mediastinum" is half right.
JUDGE_EXTRA_FINDINGS = {"aortic aneurysm": ["enlarged_cardiomediastinum"]}

# Attributes of a finding (hand-built; see docs/clinical.md, "Attributes"). phrase ->
# (kind, value). Kinds: side (left/right; bilateral = both), zone (upper/middle/lower/
# central), severity (1 mild, 2 moderate, 3 large/severe), change (new/stable/improved/
# worsened) and position (of a support device: ok/malpositioned). A phrase may carry
# several ("bibasilar": both sides, lower zone).
ATTRIBUTES: list[tuple[str, str, list[str]]] = [
    ("side", "left", ["left", "left sided"]),
    ("side", "right", ["right", "right sided"]),
    ("side", "both", ["bilateral", "bilaterally", "both", "bibasilar", "bibasal", "biapical",
                     "bilateral basilar", "bilateral lower lobe"]),
    ("zone", "upper", ["upper", "apex", "apical", "apices", "biapical", "upper lobe",
                     "upper zone", "lung apex"]),
    ("zone", "middle", ["middle", "mid", "midlung", "mid lung", "lingula", "lingular",
                        "middle lobe", "mid zone", "midzone"]),
    ("zone", "lower", ["lower", "base", "bases", "basilar", "basal", "bibasilar", "bibasal",
                     "lower lobe", "lower zone", "costophrenic", "retrocardiac"]),
    ("zone", "central", ["perihilar", "central", "hilar"]),
    ("severity", "1", ["mild", "mildly", "small", "minimal", "minimally", "trace", "tiny",
                     "slight", "slightly", "minor", "subtle", "little"]),
    ("severity", "2", ["moderate", "moderately", "moderate sized", "medium"]),
    ("severity", "3", ["large", "severe", "severely", "marked", "markedly", "massive",
                     "extensive", "significant", "substantial", "huge", "tension",
                     "moderate to large", "moderate to severe"]),
    ("change", "new", ["new", "newly", "developing", "interval development"]),
    ("change", "stable", ["stable", "unchanged", "persistent", "persists", "again",
                     "redemonstrated", "again seen", "again noted", "similar", "no change",
                     "no interval change", "grossly stable", "chronic"]),
    ("change", "improved", ["improved", "improving", "improvement", "decreased", "decreasing",
                     "decrease", "resolving", "smaller", "diminished", "less", "regression"]),
    ("change", "worsened", ["worsened", "worsening", "worse", "increased", "increasing", "increase",
                     "enlarging", "progressed", "progression", "progressive", "more",
                     "larger"]),
    ("position", "malpositioned", ["malpositioned", "mispositioned", "malposition", "malpositioning",
                     "misplaced", "malplaced", "coiled", "kinked", "too low", "too high",
                     "too deep", "main bronchus", "mainstem", "mainstem bronchus",
                     "right bronchus", "left bronchus", "bronchus intermedius",
                     "in the esophagus", "within the esophagus", "should be withdrawn",
                     "should be advanced", "recommend withdrawal", "recommend repositioning",
                     "retracted"]),
    ("position", "ok", ["well positioned", "satisfactory position", "satisfactory",
                     "appropriate position", "appropriately positioned", "appropriate",
                     "good position", "standard position", "expected position",
                     "in place", "above the carina", "unchanged position",
                     "adequately positioned", "optimal position", "terminates in the svc",
                     "in the svc", "cavoatrial junction", "at the carina level"]),
]  # fmt: skip
# A number followed by one of these is a measurement (converted to millimetres).
UNITS = {"mm": 1.0, "millimeter": 1.0, "cm": 10.0, "centimeter": 10.0}
# Words that make a sentence clinical content even without a finding mention ("The
# osseous structures are intact."); a sentence with none of them, no mention and no
# normal statement is filler for the judge's relevance.
ANATOMY_WORDS = [
    "lung", "lungs", "heart", "cardiac", "cardiomediastinal", "mediastinal", "mediastinum",
    "pleural", "pleura", "hilar", "hila", "hilum", "pulmonary", "osseous", "bony", "bone",
    "bones", "spine", "thoracic", "rib", "ribs", "diaphragm", "hemidiaphragm", "costophrenic",
    "aorta", "aortic", "trachea", "vasculature", "vascular", "soft", "chest", "thorax",
    "airspace", "parenchyma", "interstitial", "sternotomy", "clavicle", "shoulder",
    "abdomen", "silhouette", "contour", "contours", "lobe", "base", "bases", "apex",
    "tube", "line", "catheter", "pacemaker", "device", "effusion", "pneumothorax",
    "atelectasis", "opacity", "consolidation", "nodule", "mass", "edema", "fracture",
    "cardiopulmonary", "disease", "abnormality", "process", "finding", "findings",
]  # fmt: skip

# Phrases that contain a mention but are not that finding (CheXpert's unmention lists plus
# these). "plate" is a CheXpert device word, but "plate-like atelectasis" is no device.
HAND_UNMENTIONS: dict[str, list[str]] = {
    "plate like": [],
    "platelike": [],
    "pericardial effusion": [OTHER],
    "mass effect": [],
    # A calcified nodule is a granuloma: not a CheXpert lung lesion, still an NIH nodule.
    "calcified nodul": ["nodule"],
    "heart failure": ["edema"],  # keep CheXpert's edema phrase over the anatomical "heart"
    # Healed / old granulomatous disease is a calcified scar, not pneumonia ("infection").
    "granulomatous infection": [OTHER],
    "granulomatous disease": [OTHER],
    "tuberculous infection": [OTHER],
    "tuberculosis infection": [OTHER],
    "cystic fibrosis": [OTHER],  # a genetic disease, not (pulmonary) fibrosis
    # A collapsed vertebra is a fracture, not atelectasis.
    "vertebral collapse": ["fracture"],
    "vertebral body collapse": ["fracture"],
}

# CheXpert phrases whose finding differs in the NIH definition used here. CheXpert counts
# vascular congestion as Edema; NIH "Edema" is pulmonary edema, and congestion without
# edema is a separate (other) abnormality.
CHEXPERT_REMAP = {
    "vascular congestion": [OTHER],
    "pulmonary congestion": [OTHER],
    "vascular prominence": [OTHER],
    "indistinctness": [OTHER],
}

# Words that turn an anatomical mention into a finding ("enlarged cardiac silhouette").
QUALIFIERS = [
    "enlarged", "enlargement", "large", "larger", "increased", "prominent", "prominence",
    "widened", "widening", "cardiomegaly",
]  # fmt: skip

# Surface forms of the CheXpert / NegBio Semgrex patterns (a dependency parser is not
# shipped). (trigger, polarity, pre, post, file stem, lemma that must occur in that file).
# polarity: neg | unc | strong_unc (a hedge that overrides negation: "cannot exclude").
SEMGREX_TRANSLATIONS: list[tuple[str, str, bool, bool, str, str]] = [
    ("no definite", "neg", True, False, "chexpert/patterns/negation", "definite"),
    ("no obvious", "neg", True, False, "chexpert/patterns/negation", "obvious"),
    ("normal", "neg", True, True, "chexpert/patterns/negation", "normal"),
    ("unremarkable", "neg", True, True, "chexpert/patterns/negation", "unremarkable"),
    ("within normal limits", "neg", False, True, "chexpert/patterns/negation", "limit"),
    ("within normal limit", "neg", False, True, "chexpert/patterns/negation", "limit"),
    ("normal limits", "neg", False, True, "chexpert/patterns/negation", "limit"),
    ("absent", "neg", False, True, "chexpert/patterns/negation", "absent"),
    ("not enlarged", "neg", False, True, "chexpert/patterns/negation", "enlarge"),
    ("clear of", "neg", True, False, "negbio/neg_patterns", "clear"),
    ("cleared", "neg", False, True, "negbio/neg_patterns", "clear"),
    ("has cleared", "neg", False, True, "negbio/neg_patterns", "clear"),
    ("clearing of", "neg", True, False, "negbio/neg_patterns", "clearing"),
    ("resolution of", "neg", True, False, "negbio/neg_patterns", "resolution"),
    ("interval resolution of", "neg", True, False, "negbio/neg_patterns", "resolution"),
    ("disappearance of", "neg", True, False, "negbio/neg_patterns", "disappearance"),
    ("removal of", "neg", True, False, "negbio/neg_patterns", "removal"),
    ("removed", "neg", False, True, "chexpert/patterns/negation", "remove"),
    ("has resolved", "neg", False, True, "negbio/neg_patterns", "resolve"),
    ("have resolved", "neg", False, True, "negbio/neg_patterns", "resolve"),
    ("no evidence of", "neg", True, False, "negbio/neg_patterns", "evidence"),
    ("without evidence of", "neg", True, False, "negbio/neg_patterns", "evidence"),
    ("no focus of", "neg", True, False, "negbio/neg_patterns", "focus"),
    ("no area of", "neg", True, False, "chexpert/patterns/negation", "area"),
    ("no development of", "neg", True, False, "chexpert/patterns/negation", "development"),
    ("no moderate to", "neg", True, False, "negbio/neg_patterns", "moderate"),
    ("no longer seen", "neg", False, True, "chexpert/patterns/negation", "see"),
    ("is no longer seen", "neg", False, True, "chexpert/patterns/negation", "see"),
    ("not demonstrated", "neg", False, True, "negbio/neg_patterns", "demonstrate"),
    ("not visualized", "neg", False, True, "negbio/neg_patterns", "visualize"),
    ("not identified", "neg", False, True, "chexpert/patterns/negation", "demonstrate"),
    ("not appreciated", "neg", False, True, "chexpert/patterns/negation", "demonstrate"),
    ("possible", "unc", True, True, "negbio/uncertainty_patterns", "possible"),
    ("possibly", "unc", True, False, "negbio/uncertainty_patterns", "possibly"),
    ("presumably", "unc", True, False, "negbio/uncertainty_patterns", "presumably"),
    ("probable", "unc", True, False, "negbio/uncertainty_patterns", "probable"),
    ("probably", "unc", True, False, "negbio/uncertainty_patterns", "probable"),
    ("questionable", "unc", True, False, "negbio/uncertainty_patterns", "questionable"),
    ("suspect", "unc", True, False, "negbio/uncertainty_patterns", "suspect"),
    ("suspected", "unc", True, True, "negbio/uncertainty_patterns", "suspected"),
    ("suspicious for", "unc", True, False, "negbio/uncertainty_patterns", "suspicious"),
    ("question of", "unc", True, False, "negbio/uncertainty_patterns", "question"),
    ("suggestion of", "unc", True, False, "negbio/uncertainty_patterns", "suggestion"),
    ("concern for", "unc", True, False, "negbio/uncertainty_patterns", "concern"),
    ("concerning for", "unc", True, False, "negbio/uncertainty_patterns", "concern"),
    ("suspicion of", "unc", True, False, "negbio/uncertainty_patterns", "suspicion"),
    ("suspicion for", "unc", True, False, "negbio/uncertainty_patterns", "suspicion"),
    ("suggest", "unc", True, False, "negbio/uncertainty_patterns", "suggest"),
    ("suggesting", "unc", True, False, "negbio/uncertainty_patterns", "suggesting"),
    ("favor", "unc", True, False, "negbio/uncertainty_patterns", "favor"),
    ("consider", "unc", True, False, "negbio/uncertainty_patterns", "consider"),
    ("may represent", "unc", True, False, "negbio/uncertainty_patterns", "represent"),
    ("could represent", "unc", True, False, "negbio/uncertainty_patterns", "represent"),
    ("may reflect", "unc", True, False, "negbio/uncertainty_patterns", "reflect"),
    ("could reflect", "unc", True, False, "negbio/uncertainty_patterns", "reflect"),
    ("may indicate", "unc", True, False, "negbio/uncertainty_patterns", "indicate"),
    ("may include", "unc", True, False, "negbio/uncertainty_patterns", "include"),
    ("maybe", "unc", True, False, "negbio/uncertainty_patterns", "maybe"),
    ("may be", "unc", True, False, "negbio/uncertainty_patterns", "may"),
    ("could be", "unc", True, False, "negbio/uncertainty_patterns", "could"),
    ("may be due to", "unc", True, False, "negbio/uncertainty_patterns", "due"),
    ("could be due to", "unc", True, False, "negbio/uncertainty_patterns", "due"),
    ("may be related to", "unc", True, False, "negbio/uncertainty_patterns", "relate"),
    ("could be related to", "unc", True, False, "negbio/uncertainty_patterns", "relate"),
    ("may be compatible with", "unc", True, False, "negbio/uncertainty_patterns", "compatible"),
    ("could be compatible with", "unc", True, False, "negbio/uncertainty_patterns",
     "compatible"),  # fmt: skip
    ("differential diagnosis includes", "unc", True, False, "negbio/uncertainty_patterns",
     "differential"),  # fmt: skip
    ("differential diagnosis", "unc", True, False, "negbio/uncertainty_patterns", "differential"),
    ("cannot exclude", "strong_unc", True, False, "negbio/uncertainty_patterns", "exclude"),
    ("can not exclude", "strong_unc", True, False, "negbio/uncertainty_patterns", "exclude"),
    ("not excluded", "strong_unc", False, True, "negbio/uncertainty_patterns", "exclude"),
    ("cannot be excluded", "strong_unc", False, True, "negbio/uncertainty_patterns", "exclude"),
    ("can not be excluded", "strong_unc", False, True, "negbio/uncertainty_patterns", "exclude"),
    ("not be excluded", "strong_unc", False, True, "negbio/uncertainty_patterns", "exclude"),
    ("difficult to exclude", "strong_unc", True, False, "negbio/uncertainty_patterns",
     "exclude"),  # fmt: skip
    ("cannot rule out", "strong_unc", True, False, "negbio/uncertainty_patterns", "rule"),
    ("cannot be ruled out", "strong_unc", False, True, "negbio/uncertainty_patterns", "rule"),
    ("previously visualized", "neg", True, False, "chexpert/patterns/negation", "previously"),
    ("previously demonstrated", "neg", True, False, "chexpert/patterns/negation", "previously"),
    ("previously described", "neg", True, False, "chexpert/patterns/negation", "previously"),
    ("previously noted", "neg", True, False, "chexpert/patterns/negation", "previously"),
    ("previously seen", "neg", True, False, "chexpert/patterns/negation", "previously"),
    ("exclude", "neg", True, False, "negbio/neg_patterns", "exclude"),
    ("symptoms of", "unc", True, False, "chexpert/patterns/post_negation_uncertainty", "symptom"),
    ("resolving", "neg", True, False, "negbio/neg_patterns", "resolving"),
    ("question", "unc", True, False, "negbio/uncertainty_patterns", "question"),
    ("questioned", "unc", False, True, "negbio/uncertainty_patterns", "question"),
    ("no new", "neg", True, False, "chexpert/patterns/pre_negation_uncertainty", "new"),
    ("borderline", "unc", True, False, "chexpert/patterns/post_negation_uncertainty", "borderline"),
    ("correlate clinically for", "unc", True, False, "chexpert/patterns/post_negation_uncertainty",
     "correlat"),  # fmt: skip
    ("not clearly seen", "unc", False, True, "chexpert/patterns/post_negation_uncertainty", "clear"),
    ("not well visualized", "unc", False, True, "chexpert/patterns/post_negation_uncertainty",
     "visualize"),  # fmt: skip
    ("poorly evaluated", "unc", False, True, "chexpert/patterns/post_negation_uncertainty", "evaluate"),
]

# Hand-written triggers: (trigger, polarity, pre, post, why).
HAND_TRIGGERS: list[tuple[str, str, bool, bool, str]] = [
    ("upper limits of normal", "unc", False, True, "borderline size; beats 'normal'"),
    ("upper limit of normal", "unc", False, True, "borderline size; beats 'normal'"),
    ("upper limits normal", "unc", False, True, "as 'upper limits of normal'"),
    ("upper limit normal", "unc", False, True, "as 'upper limits of normal'"),
    ("upper normal", "unc", True, False, "borderline size; beats 'normal'"),
    ("top normal", "unc", True, False, "borderline size; beats 'normal'"),
    ("clear", "neg", False, True, "'lungs are clear' (NegBio: 'clear' lemma), post only"),
    ("are clear", "neg", False, True, "as 'clear'"),
    ("are not seen", "neg", False, True, "ConText/genConText 'not seen'"),
    ("no acute", "neg", True, False, "'no acute pneumonia'; same as 'no'"),
    ("no other", "neg", True, False, "'no other nodules'; same as 'no'"),
    ("to suggest", "pseudo", True, False, "'no opacity to suggest pneumonia' keeps the 'no'"),
    ("to indicate", "pseudo", True, False, "as 'to suggest'"),
    ("are clear of", "neg", True, False, "'lungs are clear of X': beats the post 'are clear'"),
    ("is clear of", "neg", True, False, "as 'are clear of'"),
    ("evaluation for", "unc", True, False, "'evaluation for X is limited'"),
    ("could indicate", "unc", True, False, "as NegBio's 'may indicate'"),
    ("may also be", "unc", True, False, "as NegBio's 'may be'"),
    ("may be secondary to", "unc", True, False, "as NegBio's 'may be due to'"),
    ("differential diagnosis including", "unc", True, False, "as 'differential diagnosis'"),
    ("differential considerations include", "unc", True, False, "as 'differential diagnosis'"),
    ("consideration", "unc", False, True, "'X would be a consideration'"),
    ("cannot be entirely excluded", "strong_unc", False, True, "as 'cannot be excluded'"),
    ("not entirely excluded", "strong_unc", False, True, "as 'not excluded'"),
    ("cannot be completely excluded", "strong_unc", False, True, "as 'cannot be excluded'"),
    ("not well seen", "neg", False, True, "'previously seen nodule not well seen today'"),
    ("is a possibility", "unc", False, True, "as NegBio's 'possible'"),
    ("not definitely seen", "neg", False, True, "as 'not seen'"),
    ("differential", "unc", True, True, "'pneumonia is in the differential'"),
    ("in the appropriate clinical setting", "unc", True, False, "conditional assertion"),
    ("no change", "pseudo", True, False, "NegEx pseudo-trigger (kept explicit)"),
    ("not only", "pseudo", True, False, "NegEx pseudo-trigger (kept explicit)"),
    # "No effusion, mild cardiomegaly": a list item with its own severity is asserted, not
    # part of the negated list. Not "small" / "large": templates write "No pneumothorax,
    # large pleural effusion" for "no large effusion" (size-thresholded negation).
    *[(f", {w}", "term", True, True, "asserted list item") for w in (
        "mild", "mildly", "moderate", "severe", "stable", "minimal", "trace", "persistent",
        "increased", "worsening", "unchanged")],
    ("with", "term", True, True, "'X without Y with Z': a new clause for the finding Z"),
    ("which", "term", True, True, "relative clause starts a new scope"),
    ("however", "term", True, True, "ConText terminator (kept explicit)"),
    ("but", "term", True, True, "ConText terminator (kept explicit)"),
]

# NegEx/ConText entries that misfire on radiology text; why each is dropped.
# Alternatives ("atelectasis or infiltrate", "X versus Y", "X and/or Y") are not hedges
# here: CheXpert's post-negation "XXX or YYY" / "XXX versus YYY" rules make both uncertain,
# but radiologists list them as the working differential of an abnormality they do see,
# and the human OpenI gold standard codes them as present (micro-F1 0.86 -> 0.91 when
# they stay positive). "likely" is no cue in CheXpert either ("probably" is, via NegBio).
DROPPED_TRIGGERS = {
    "or": "alternative, see above",
    "and/or": "alternative, see above",
    "versus": "alternative, see above",
    "likely": "no cue in CheXpert; 'likely X' asserts X",
    "most likely": "as 'likely'",
    "history": "IU reports state chronic findings as 'history of X' and mean X is present",
    "past history": "as 'history'",
    "h/o": "as 'history'",
    "still": "'still present' is a continuation, not a new clause",
    "patient": "NegEx experiencer terminator, meaningless in radiology text",
    "noted": "NegEx history terminator; 'noted' asserts a finding",
    "consistent with": "NegEx history terminator; 'consistent with X' asserts X",
    "prior": "NegEx history marker; 'prior' qualifies comparisons",
    "return": "ConText hypothetical; appears as 'return of'",
    "secondary": "ConText terminator; 'secondary to' relates two findings",
    "since": "appears in 'since the prior study'",
    "today": "NegEx terminator; harmless but meaningless here",
    "currently": "as 'today'",
    "recent": "as 'today'",
    "free": "post trigger; 'free air' is a finding, 'free of' stays",
}

# Scope windows in tokens (pre: trigger before the mention, post: after). NegEx uses 5
# words; radiology negations head long lists ("no pneumothorax, effusion, or focal
# consolidation"), so the default forward scope is wider, and sentence ends and
# terminators still cut it. Adjective-like triggers only reach their neighbours.
DEFAULT_WINDOW = (16, 6)
WINDOWS = {
    "normal": (3, 8), "unremarkable": (3, 8), "clear": (0, 4), "are clear": (0, 4),
    "borderline": (4, 0), "absent": (0, 4), "differential": (8, 6),
    "previously visualized": (3, 0), "previously demonstrated": (3, 0),
    "previously described": (3, 0), "previously noted": (3, 0), "previously seen": (3, 0),
}  # fmt: skip

# Statements that make a report "say something" (so no_finding can be positive).
NORMAL_STATEMENTS = [
    "normal", "unremarkable", "clear", "no acute", "within normal limits", "no active",
    "negative",
]  # fmt: skip

POLARITY_OF_NEGEX = {"PREN": ("neg", True, False), "POST": ("neg", False, True),
                     "PREP": ("unc", True, False), "POSP": ("unc", False, True),
                     "PSEU": ("pseudo", True, False), "CONJ": ("term", True, True)}  # fmt: skip
CONTEXT_CATEGORY = {"NEGATED_EXISTENCE": "neg", "POSSIBLE_EXISTENCE": "unc", "HYPOTHETICAL": "unc"}


def norm_phrase(text: str) -> str:
    """Lower-case and put spaces around punctuation, as the run-time tokenizer splits it."""
    text = text.lower().replace("_", " ").replace("-", " ")
    text = re.sub(r"([^\sa-z0-9])", r" \1 ", text)
    return " ".join(text.split())


def read_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def build_mentions(vocab: Path) -> list[dict]:
    mentions: dict[str, dict] = {}

    def add(phrase: str, findings: list[str], anatomical: bool, source: str) -> None:
        key = norm_phrase(phrase)
        if not key:
            return
        for f in findings:
            if f not in FINDINGS and f != OTHER and not f.startswith("x:"):
                raise ValueError(f"unknown finding {f!r} for phrase {phrase!r}")
        stem = key.split()[-1] in CHEXPERT_STEMS or phrase in ("emphysem", "infiltrat")
        mentions[key] = {"phrase": key, "findings": findings, "anatomical": anatomical,
                         "stem": stem, "source": source}  # fmt: skip

    for path in sorted((vocab / "chexpert/phrases/mention").glob("*.txt")):
        observation = path.stem
        for phrase in read_lines(path):
            clean = phrase.strip("_").replace("_", " ").strip()
            if clean in CHEXPERT_SPLITS:
                findings = CHEXPERT_SPLITS[clean]
            elif clean in CHEXPERT_REMAP:
                findings = CHEXPERT_REMAP[clean]
            elif observation == "no_finding":
                findings = [OTHER]  # CheXpert's list of other abnormalities
            else:
                findings = [observation]
            add(clean, findings, clean in ANATOMICAL, f"chexpert:mention/{observation}")
    for path in sorted((vocab / "chexpert/phrases/unmention").glob("*.txt")):
        for phrase in read_lines(path):
            if phrase == "calcified nodul":
                continue  # replaced by the hand unmention below (keeps the NIH nodule)
            add(phrase, [], False, f"chexpert:unmention/{path.stem}")
    for phrase, (findings, anatomical) in HAND_MENTIONS.items():
        add(phrase, findings, anatomical, "hand")
    for phrase, findings in HAND_UNMENTIONS.items():
        add(phrase, findings, False, "hand:unmention")
    mentions[norm_phrase("calcified nodul")]["stem"] = True
    for concept, phrases in JUDGE_CONCEPTS.items():
        for phrase, anatomical in phrases.items():
            old = mentions.get(norm_phrase(phrase))
            if old is None:
                add(phrase, [OTHER], anatomical, "hand:judge")
                old = mentions[norm_phrase(phrase)]
            extra = [concept, *JUDGE_EXTRA_FINDINGS.get(phrase, [])]
            old["findings"] = [*old["findings"], *(f for f in extra if f not in old["findings"])]
    return sorted(mentions.values(), key=lambda m: m["phrase"])


def build_triggers(vocab: Path) -> list[dict]:
    triggers: dict[str, dict] = {}

    def add(phrase: str, polarity: str, pre: bool, post: bool, source: str) -> None:
        key = norm_phrase(phrase)
        if not key or key in {norm_phrase(d) for d in DROPPED_TRIGGERS}:
            return
        old = triggers.get(key)
        if old is not None and old["polarity"] == polarity:
            old["pre"] |= pre  # the same trigger both before and after ("resolved")
            old["post"] |= post
            old["source"] += f"+{source}"
            return
        if old is not None and old["source"].startswith(("hand", "chexpert", "negbio")):
            return  # hand / CheXpert / NegBio entries win over the generic lists
        triggers[key] = {"phrase": key, "polarity": polarity, "pre": pre, "post": post,
                         "source": source}  # fmt: skip

    for phrase, polarity, pre, post, _why in HAND_TRIGGERS:
        add(phrase, polarity, pre, post, "hand")
    for phrase, polarity, pre, post, stem, lemma in SEMGREX_TRANSLATIONS:
        pattern_file = vocab / f"{stem}.txt"
        if lemma not in pattern_file.read_text(encoding="utf-8"):
            raise ValueError(f"{lemma!r} (for {phrase!r}) does not occur in {pattern_file}")
        add(phrase, polarity, pre, post, stem.replace("/patterns", "").replace("/", ":"))
    rules = json.loads((vocab / "medspacy/context_rules_en.json").read_text(encoding="utf-8"))
    for rule in rules["context_rules"]:
        direction = rule["direction"]
        if direction == "TERMINATE":
            add(rule["literal"], "term", True, True, "context")
        elif rule["category"] in CONTEXT_CATEGORY:
            polarity = CONTEXT_CATEGORY[rule["category"]]
            add(rule["literal"], polarity, direction in ("FORWARD", "BIDIRECTIONAL"),
                direction in ("BACKWARD", "BIDIRECTIONAL"), "context")  # fmt: skip
    for name in ("negex_triggers", "genConText_negex_triggers", "hypothetical_triggers"):
        for line in read_lines(vocab / f"negex/{name}.txt"):
            parts = [p for p in line.split("\t") if p]
            tag = parts[-1].strip("[]")
            if tag in POLARITY_OF_NEGEX:
                polarity, pre, post = POLARITY_OF_NEGEX[tag]
                if name == "hypothetical_triggers" and polarity == "neg":
                    polarity = "unc"  # hypothetical: the finding is not asserted
                add(parts[0], polarity, pre, post, f"negex:{name}")
    for trig in triggers.values():
        trig["window_pre"], trig["window_post"] = WINDOWS.get(trig["phrase"], DEFAULT_WINDOW)
    return sorted(triggers.values(), key=lambda t: t["phrase"])


NOTICE = """\
himed-rewards offline clinical labeler: rule table (rules.json)

rules.json is generated by scripts/build_clinical_rules.py from the vocabularies below,
plus hand-written additions documented in that script. It contains phrases and trigger
words derived from these works:

1. CheXpert labeler phrases and patterns
   https://github.com/stanfordmlgroup/chexpert-labeler (commit 44ddeb36)
   MIT License. Copyright (c) 2018 Stanford Machine Learning Group.
   Permission is hereby granted, free of charge, to any person obtaining a copy of this
   software and associated documentation files (the "Software"), to deal in the Software
   without restriction, including without limitation the rights to use, copy, modify,
   merge, publish, distribute, sublicense, and/or sell copies of the Software, and to
   permit persons to whom the Software is furnished to do so, subject to the following
   conditions: The above copyright notice and this permission notice shall be included in
   all copies or substantial portions of the Software. THE SOFTWARE IS PROVIDED "AS IS",
   WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.

2. NegBio negation and uncertainty patterns
   https://github.com/ncbi-nlp/NegBio (commit 073199e2)
   Public domain (United States Government Work, National Center for Biotechnology
   Information). Please cite: Peng Y, Wang X, Lu L, Bagheri M, Summers RM, Lu Z. NegBio: a
   high-performance tool for negation and uncertainty detection in radiology reports.
   AMIA 2018 Informatics Summit.

3. NegEx / pyConTextNLP trigger lists
   https://github.com/chapmanbe/negex (commit d136b972)
   Licensed under the Apache License, Version 2.0
   (http://www.apache.org/licenses/LICENSE-2.0). Chapman WW et al., A simple algorithm
   for identifying negated findings and diseases in discharge summaries, J Biomed Inform
   2001;34(5):301-310.

4. medspacy ConText rules (resources/en/context_rules.json)
   https://github.com/medspacy/medspacy (commit 692b32b1)
   MIT License. Copyright (c) 2020 medspacy. Same MIT terms as above.

No report text (IU X-ray or other) is contained in rules.json.
"""


def build_attributes() -> dict[str, list[list[str]]]:
    table: dict[str, list[list[str]]] = {}
    for kind, value, phrases in ATTRIBUTES:
        for phrase in phrases:
            pairs = table.setdefault(norm_phrase(phrase), [])
            if [kind, value] not in pairs:
                pairs.append([kind, value])
    return dict(sorted(table.items()))


def build(vocab: Path) -> dict:
    """Return the rule table as a JSON-ready dict."""
    table = {
        "format": 1,
        "findings": list(FINDINGS),
        "other": OTHER,
        "mentions": build_mentions(vocab),
        "triggers": build_triggers(vocab),
        "qualifiers": [norm_phrase(q) for q in QUALIFIERS],
        "normal_statements": [norm_phrase(s) for s in NORMAL_STATEMENTS],
        "attributes": build_attributes(),
        "units": UNITS,
        "minor_concepts": sorted(MINOR_CONCEPTS),
        "anatomy_words": sorted(norm_phrase(w) for w in ANATOMY_WORDS),
    }
    payload = json.dumps(table, sort_keys=True).encode()
    table["sha256"] = hashlib.sha256(payload).hexdigest()
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=Path, default=DEFAULT_VOCAB)
    parser.add_argument("--check", action="store_true", help="fail if the output is stale")
    args = parser.parse_args(argv)
    text = json.dumps(build(args.vocab), indent=1, sort_keys=True) + "\n"
    rules_path, notice_path = OUT_DIR / "rules.json", OUT_DIR / "NOTICE"
    if args.check:
        stale = not rules_path.exists() or rules_path.read_text(encoding="utf-8") != text
        print("stale" if stale else "up to date")
        return 1 if stale else 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    rules_path.write_text(text, encoding="utf-8")
    notice_path.write_text(NOTICE, encoding="utf-8")
    table = json.loads(text)
    print(f"wrote {rules_path}: {len(table['mentions'])} mentions, "
          f"{len(table['triggers'])} triggers")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
