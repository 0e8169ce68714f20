#pragma once
// The sample rows a layer-wise weight quantizer such as GPFQ learns from, cut out of the tensor a layer reads:
// a linear layer gives one row per image (per position of any middle dimensions), a 2-D convolution one row per
// output position, the patch (C_in/groups x kh x kw per group) that position's neurons see. Patches are many, so
// a seeded random subset of them is kept, the same for the FP32 and the quantized network.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "quantsim/quant/model_layer.h"

namespace quantsim {

// Throws UserError naming the layer unless its input can be cut into rows: a linear layer, or a 2-D convolution
// (4-D weight), not transposed, with constant stride, padding and dilation.
void check_layer_samplable(const Layer& layer);

// Rows one image gives: H_out * W_out for a convolution, the product of the middle dimensions for a linear layer.
// `input_sizes` are those of the layer's input ([N, C, H, W] or [N, ..., F]).
int64_t rows_per_image(const Layer& layer, at::IntArrayRef input_sizes);

// Which of the `rows` rows of one image are kept: each independently with probability `probability`, drawn from a
// splitmix64 stream keyed by (seed, layer_index, image_index), so the choice depends neither on the batch an image
// sits in nor on the device. probability >= 1 keeps every row. Increasing order.
std::vector<int64_t> sampled_image_rows(int64_t rows, double probability, uint64_t seed, int64_t layer_index,
                                        int64_t image_index);

// The rows `rows` (indices into the batch's N * rows_per_image rows, image-major, then output position row-major)
// of `input`, as [G, m, n/G] on the input's device: group g's patches hold only its own input channels, in the
// order of the flattened weight [O, C_in/groups * kh * kw].
at::Tensor layer_input_rows(const Layer& layer, const at::Tensor& input, const at::Tensor& rows);

}  // namespace quantsim
