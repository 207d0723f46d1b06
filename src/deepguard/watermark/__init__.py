"""Robust invisible watermarks: deepguard's own marks and third-party ones.

``image``, ``video`` and ``audio`` embed and detect deepguard's keyed mark,
whose payload (``payload``) names the producer and the content so that a
platform can restore a stripped GB 45438 label from the producer's records.
``thirdparty`` reads marks other generators embed (Stable Diffusion's
invisible-watermark bits, and model-based detectors a user supplies).
"""
