"""SageMaker's built-in BlazingText (image ``blazingtext``), algorithms.md §2.11.

``mode=cbow|skipgram|batch_skipgram``: Word2Vec embeddings trained with gensim (:mod:`.word2vec`;
``subwords=True`` uses gensim's FastText with character n-grams); artifacts ``vectors.txt`` and
``vectors.bin`` (word2vec text and binary formats) and, with subwords, ``subwords.bin``.
``mode=supervised``: fastText-style text classification in torch (:mod:`.supervised`), word n-grams
hashed as fastText hashes them, optional early stopping on validation accuracy; the artifact
``model.bin`` is written in fastText's own ``.bin`` format (:mod:`.fasttext_format`), which fastText
reads, and fastText-trained supervised ``.bin`` files are served too.

Inference: :mod:`.serving`.
"""

from sagestack.algorithms.blazingtext.serving import BlazingTextModel, load_model, predict
from sagestack.algorithms.blazingtext.spec import SPEC
from sagestack.algorithms.blazingtext.training import train

__all__ = ["SPEC", "BlazingTextModel", "load_model", "predict", "train"]
