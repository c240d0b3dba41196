"""Scoring: grade an interview answer against its reference answer and key concepts.

``Scorer`` is the entry point; ``rating_from_score`` maps an overall score to an FSRS rating;
``derive_concepts`` finds key phrases in a reference for questions without concepts. Importing this
package never imports torch or sentence_transformers: the encoder loads on first use.
"""

from __future__ import annotations

from viva.scoring.concepts import derive_concepts
from viva.scoring.embedder import Embedder
from viva.scoring.rubric import rating_from_score
from viva.scoring.scorer import Scorer

__all__ = ["Embedder", "Scorer", "derive_concepts", "rating_from_score"]
