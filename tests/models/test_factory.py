"""The network factory: any timm name, one logit, the grid or global head, the CAM layer named."""

from __future__ import annotations

import torch

from cxr_miliary.models import cam_target_layer, create_model, head_name


def test_one_logit_from_any_timm_name_with_either_head():
    for head in ("global", "grid"):
        m = create_model("test_resnet", in_chans=1, head=head).eval()
        with torch.no_grad():
            out = m(torch.zeros(2, 1, 64, 64))
        assert out.shape in ((2, 1), (2,)) and head_name(m) == head
        layer = cam_target_layer(m)
        assert layer and m.get_submodule(layer) is not None
