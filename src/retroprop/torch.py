"""PyTorch interop: ``from retroprop.torch import to_torch, from_torch``.

Importing this module does not import PyTorch; the functions do, when called. (The
``import torch`` inside them is absolute, so it finds the real PyTorch, never this
module.)
"""

from retroprop.interop.torch_interop import (
    TorchNotInstalledError,
    from_torch,
    load_torch_model,
    to_torch,
)

__all__ = ["TorchNotInstalledError", "from_torch", "load_torch_model", "to_torch"]
