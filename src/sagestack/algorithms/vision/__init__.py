"""What the vision built-in algorithms (Image Classification, Object Detection, Semantic Segmentation)
share: input readers (:mod:`.inputs`), ResNet backbones (:mod:`.backbones`), image preparation
(:mod:`.augment`) and training helpers (:mod:`.training`)."""
