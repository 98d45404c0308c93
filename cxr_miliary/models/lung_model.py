"""The learned lung-field model: a small U-Net (segmentation-models-pytorch, timm encoder).

Three classes on a 256-pixel copy of the film: background, the image-left lung (the
patient's right) and the image-right lung (the patient's left), so the left/right split
is learned rather than cut at a midline. A second head on the encoder says how the film
is turned (:data:`ORIENTATIONS`): a segmentation network finds dark lung-shaped regions
on an upside-down film as readily as on an upright one, so the orientation is asked of
the whole image (neck and shoulders above, diaphragm, heart and abdomen below). This
module is the network alone; its bundle (``weights/lungs``: safetensors, ONNX export, card)
is :mod:`.lung_bundle`'s, and running a bundle is :mod:`.lung_segmenter`'s.

The lung *fields* are what radiologists outline: the aerated lung the film shows, not the
soft tissue above the clavicles, outside the rib cage or below the diaphragm, and not the
heart. Trained on phantoms (whose truth masks are exactly that) with heavy augmentation,
or on JSRT/SCR, Montgomery and Shenzhen (``cxr-miliary manifest jsrt|montgomery|shenzhen``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

CLASSES = ("background", "image-left lung", "image-right lung")
#: The orientation head's classes: how the film on the screen is turned from upright
#: (``np.rot90`` with k = 0, 1, 2, 3; a film flipped upside down is "upside-down" too).
ORIENTATIONS = ("upright", "rotated-90-anticlockwise", "upside-down", "rotated-90-clockwise")
DEFAULT_ENCODER = "tu-mobilenetv3_small_100"
DEFAULT_DECODER = (64, 32, 24, 16, 8)


def create_lung_model(
    encoder: str = DEFAULT_ENCODER, decoder_channels: tuple[int, ...] = DEFAULT_DECODER, pretrained: bool = False, orientation: bool = True
) -> Any:
    """The U-Net (1 input channel, 3 classes), with the orientation head on its encoder unless ``orientation`` is False.

    With the head the network returns ``(segmentation logits, orientation logits)``.
    ``pretrained`` loads the encoder's hub weights (needs internet).
    """
    import segmentation_models_pytorch as smp

    return smp.Unet(
        encoder_name=encoder,
        encoder_weights="imagenet" if pretrained else None,
        in_channels=1,
        classes=len(CLASSES),
        decoder_channels=tuple(decoder_channels),
        aux_params={"classes": len(ORIENTATIONS), "dropout": 0.2} if orientation else None,
    )


def split_outputs(out: Any) -> tuple[Any, Any]:
    """``(segmentation logits, orientation logits or None)`` from what the network returned."""
    return (out[0], out[1]) if isinstance(out, (tuple, list)) else (out, None)


def normalise(pixels_small: np.ndarray, mean: float = 0.5, std: float = 0.25) -> np.ndarray:
    """(H, W) display values -> (1, 1, H, W) float32 network input."""
    return ((np.asarray(pixels_small, dtype=np.float32) - mean) / std)[None, None]
