"""SageMaker's built-in Sequence-to-Sequence (image ``seq2seq``), algorithms.md §2.14.

An attention encoder–decoder in torch (:mod:`.network`: RNN — LSTM/GRU, bidirectional first encoder
layer, input feeding — or CNN encoder/decoder, as ``encoder_type``/``decoder_type`` say), trained
(:mod:`.training`) on RecordIO-protobuf records of Int32 ``source``/``target`` token ids with the
``vocab`` channel's ``vocab.src.json``/``vocab.trg.json``; checkpoints scored on the validation
channel for ``validation:perplexity``, ``validation:accuracy`` and ``validation:bleu``; beam search at
inference (:mod:`.model`, :mod:`.serving`). Single machine only, as SageMaker's seq2seq.
"""

from sagestack.algorithms.seq2seq.model import Seq2SeqModel, load_model
from sagestack.algorithms.seq2seq.serving import predict
from sagestack.algorithms.seq2seq.spec import SPEC
from sagestack.algorithms.seq2seq.training import train

__all__ = ["SPEC", "Seq2SeqModel", "load_model", "predict", "train"]
