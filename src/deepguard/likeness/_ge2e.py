"""Resemblyzer's GE2E speaker encoder, declared here and run with torch on CPU.

The network (Wan et al., "Generalized End-to-End Loss for Speaker
Verification", 2018, as trained by Resemblyzer) is a 3-layer LSTM over 40 mel
channels with 256 hidden units, a 256 x 256 linear layer, ReLU and L2
normalisation. An utterance is cut into 1.6 s partials (160 mel frames) about
1.3 per second; the utterance embedding is the normalised mean of the partial
embeddings.

The weights ship as ``pretrained.pt`` inside the ``resemblyzer`` wheel. That
package is never imported: its ``__init__`` imports librosa, which deepguard
does not install. ``_models`` finds (and checks) the file without importing it,
and it is read with ``torch.load(weights_only=True)``, which refuses pickled
code.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from deepguard.errors import ConfigError, DependencyError
from deepguard.likeness._mel import HOP_LENGTH, mel_spectrogram
from deepguard.likeness._models import voice_encoder_path

__all__ = [
    "EMBEDDING_SIZE",
    "PARTIAL_FRAMES",
    "GE2EEncoder",
    "load_encoder",
    "partial_slices",
]

EMBEDDING_SIZE = 256
PARTIAL_FRAMES = 160  # 1.6 s of 10 ms mel frames
_N_MELS = 40
_HIDDEN = 256
_LAYERS = 3
_PARTIALS_PER_SECOND = 1.3
_MIN_COVERAGE = 0.75
_BATCH = 256  # partials per forward pass: ~6.5 MB of input


class GE2EEncoder(nn.Module):
    """The GE2E network: mel partials in, L2-normalised 256-d embeddings out."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(_N_MELS, _HIDDEN, _LAYERS, batch_first=True)
        self.linear = nn.Linear(_HIDDEN, EMBEDDING_SIZE)
        self.relu = nn.ReLU()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """Embed a batch ``(batch, frames, 40)`` of mel spectrograms.

        The final hidden state of the last LSTM layer goes through the linear
        layer and ReLU, then onto the unit sphere.
        """
        hidden: torch.Tensor = self.lstm(mels)[1][0]  # (layers, batch, hidden)
        raw: torch.Tensor = self.relu(self.linear(hidden[-1]))
        # ReLU can zero a whole vector; the clamp keeps it zero instead of NaN.
        norm = torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-12)
        unit: torch.Tensor = raw / norm
        return unit

    def embed_utterances(
        self, wavs: Sequence[npt.NDArray[np.float32]]
    ) -> npt.NDArray[np.float32]:
        """Utterance embeddings ``(len(wavs), 256)`` as Resemblyzer computes them.

        Each wav is preprocessed 16 kHz audio (normalised, silences trimmed).
        The partials of all wavs go through the network together, in batches,
        which is much faster than one forward pass per utterance; at most one
        batch of partials is held at a time, whatever the total length.
        """
        sums = np.zeros((len(wavs), EMBEDDING_SIZE), dtype=np.float64)
        batch: list[npt.NDArray[np.float32]] = []
        owners: list[int] = []

        def flush() -> None:
            with torch.inference_mode():
                embeds = self(torch.from_numpy(np.stack(batch))).numpy()
            np.add.at(sums, np.asarray(owners), embeds)
            batch.clear()
            owners.clear()

        for index, wav in enumerate(wavs):
            for mel in _partials(wav):
                batch.append(mel)
                owners.append(index)
                if len(batch) == _BATCH:
                    flush()
        if batch:
            flush()
        # The normalised sum is the normalised mean of the partial embeddings.
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = (sums / np.maximum(norms, 1e-12)).astype(
            np.float32
        )
        return unit


def partial_slices(n_samples: int) -> list[slice]:
    """Mel-frame ranges of the 1.6 s partials of an utterance of ``n_samples``.

    Resemblyzer's ``compute_partial_slices(rate=1.3, min_coverage=0.75)``:
    partials start every 77 frames; the last one is kept if at least 75 % of
    it lies within the audio (the rest is zero padding), and there is always
    at least one. Ranges may run past the audio; the caller pads.
    """
    frames = int(np.ceil((n_samples + 1) / HOP_LENGTH))
    step = round((16_000 / _PARTIALS_PER_SECOND) / HOP_LENGTH)
    steps = max(1, frames - PARTIAL_FRAMES + step + 1)
    slices = [slice(i, i + PARTIAL_FRAMES) for i in range(0, steps, step)]
    last = slices[-1]
    coverage = (n_samples - last.start * HOP_LENGTH) / (PARTIAL_FRAMES * HOP_LENGTH)
    if coverage < _MIN_COVERAGE and len(slices) > 1:
        slices.pop()
    return slices


def _partials(wav: npt.NDArray[np.float32]) -> Iterator[npt.NDArray[np.float32]]:
    """The mel spectrograms of an utterance's partials, each ``(160, 40)``."""
    slices = partial_slices(wav.size)
    needed = slices[-1].stop * HOP_LENGTH
    if needed >= wav.size:
        wav = np.pad(wav, (0, needed - wav.size))
    mel = mel_spectrogram(wav)
    for part in slices:
        yield mel[part]


def load_encoder(weights_path: Path | None = None) -> GE2EEncoder:
    """The encoder with Resemblyzer's weights (or those at ``weights_path``).

    Raises:
        DependencyError: the packaged weights are missing, modified or unreadable.
        ConfigError: ``weights_path`` is missing, unreadable or not GE2E weights.
    """
    path = voice_encoder_path(weights_path)
    # A user's own file is their setting; the packaged one is an installation.
    failure = ConfigError if weights_path is not None else DependencyError
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = "not voice encoder weights that load safely (tensors only)"
        raise failure(msg, path=path) from exc
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        # torch's messages run over several lines; the first says what failed.
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        msg = f"cannot read voice encoder weights: {first}"
        raise failure(msg, path=path) from exc
    state = checkpoint.get("model_state") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        msg = "not a Resemblyzer checkpoint (no model_state)"
        raise failure(msg, path=path)
    encoder = GE2EEncoder()
    # The checkpoint also holds the GE2E loss's similarity scale and bias,
    # which only training uses.
    wanted = list(encoder.state_dict())
    missing = [key for key in wanted if key not in state]
    if missing:
        msg = f"voice encoder weights lack {len(missing)} tensors, e.g. {missing[0]}"
        raise failure(msg, path=path)
    try:
        encoder.load_state_dict({key: state[key] for key in wanted}, strict=True)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = lines[-1] if lines else type(exc).__name__
        msg = f"voice encoder weights do not fit the GE2E network: {detail}"
        raise failure(msg, path=path) from exc
    encoder.eval()
    encoder.requires_grad_(False)
    # Keeps the LSTM weights in one contiguous block after loading.
    encoder.lstm.flatten_parameters()
    return encoder
