"""MODEL_CARD.md: what a person reads about a bundle, written from its card."""

from __future__ import annotations

from cxr_miliary.models.model_card import human_card


def test_the_human_card_says_what_the_model_is_and_was_trained_on():
    text = human_card(
        {
            "name": "cxr-miliary-test",
            "backbone": "resnet10t",
            "preprocess": {"image_size": 512, "channels": 1},
            "temperature": 1.3,
            "threshold": 0.28,
            "training_data": {"description": "phantoms only", "domain": "synthetic"},
            "metrics": {"val_after_calibration": {"auroc": 0.97, "auprc": 0.81}},
        }
    )
    assert "# cxr-miliary-test" in text and "`resnet10t`" in text and "phantoms only" in text
    assert "AUROC 0.9700" in text and "AUPRC 0.8100" in text and "threshold 0.2800" in text
    assert "Not a medical device" in text and "synthetic-model" in text  # a phantom model says what that means on real films
    assert "the whole film at 512 px: 0.84 mm per input pixel" in text


def test_a_lung_region_card_says_it_reads_the_lungs_and_what_a_pixel_spans():
    text = human_card(
        {
            "name": "r",
            "backbone": "resnet10t",
            "preprocess": {"image_size": 768, "channels": 1, "region": "lungs", "region_margin": 0.05},
            "training_data": {"domain": "real"},
        }
    )
    assert "the box around both lung fields plus 5% (lung-region input), at 768 px: about 0.47-0.54 mm per input pixel" in text
