"""Dataset builders: user-supplied IU X-ray, MIMIC-CXR-JPG, CheXpert Plus and PadChest-GR
files into study records, and those into TRL conversational datasets with images and a
``reference`` column.
"""

from __future__ import annotations

from himed_train.data.chexpert_plus import load_chexpert_plus
from himed_train.data.iu_xray import load_iu_xray
from himed_train.data.mimic_cxr import load_mimic_cxr
from himed_train.data.padchest_gr import load_padchest_gr
from himed_train.data.records import DEFAULT_THINK, StudyRecord

__all__ = [
    "StudyRecord",
    "DEFAULT_THINK",
    "load_iu_xray",
    "load_mimic_cxr",
    "load_chexpert_plus",
    "load_padchest_gr",
    "BUILDERS",
]

#: Builder per dataset name, as the training configuration names them.
BUILDERS = {
    "iu_xray": load_iu_xray,
    "mimic_cxr": load_mimic_cxr,
    "chexpert_plus": load_chexpert_plus,
    "padchest_gr": load_padchest_gr,
}
