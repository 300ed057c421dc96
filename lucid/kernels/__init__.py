"""Pure-array compute kernels (NumPy arrays in, NumPy arrays out; no Tensor, no autograd).

Each module implements one family of operations together with its exact adjoints, so the
autograd layer above only has to wire forward and backward calls together:

* :mod:`lucid.kernels.conv` -- N-d (1/2/3 spatial dims) grouped, strided, dilated
  cross-correlation with its input gradient (= transposed convolution) and weight gradient.
* :mod:`lucid.kernels.pad` -- constant / reflect / replicate / circular padding and its adjoint.
"""
