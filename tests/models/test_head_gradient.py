"""The head's gradient in closed form equals autograd's (what makes maps cost one forward pass)."""

from __future__ import annotations

import torch

from cxr_miliary.models import cam_target_layer, create_model
from cxr_miliary.models.head_gradient import check_separable, explicit_gradient, head_function


def test_the_closed_form_gradient_equals_autograd_for_both_heads():
    for head in ("global", "grid"):
        torch.manual_seed(0)
        m = create_model("test_resnet", in_chans=1, head=head).eval()
        res = check_separable(m, cam_target_layer(m), 64, 1)
        assert res["separable"] and res["gradient"] == "explicit", res
        a = torch.randn(2, *m.forward_features(torch.zeros(1, 1, 64, 64)).shape[1:], requires_grad=True)
        (ref,) = torch.autograd.grad(head_function(m)(a).sum(), a)
        assert torch.allclose(explicit_gradient(m)(a.detach()), ref, atol=1e-6, rtol=1e-4)
