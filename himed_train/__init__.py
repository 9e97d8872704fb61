"""himed_train: the HiMed reward wired into TRL's GRPO trainer."""
