// Range walking and instruction-set dispatch for the CPU fake-quant kernels; the loops live in the span kernels.
#include "cpu/fake_quant_cpu.h"

#include <algorithm>

#include "cpu/fake_quant_cpu_spans.h"

namespace quantsim::kernels {
namespace {

// A call that writes at least this many floats (16 MiB) bypasses the caches with non-temporal stores: its output
// cannot stay cached anyway, and skipping the read-for-ownership saves a third of the memory traffic.
constexpr int64_t kStreamingMinElements = int64_t{1} << 22;

const SpanKernels& span_kernels() {
  static const SpanKernels kernels = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? avx2_span_kernels() : scalar_span_kernels();
  }();
  return kernels;
}

// inner == 1: consecutive elements walk through consecutive channels, wrapping at `channels`.
void walk_interleaved_channels(const SpanKernels& k, const float* x, float* out, int64_t begin, int64_t end,
                               int64_t channels, const ChannelQuantParams& params, bool streaming) {
  int64_t pos = begin;
  while (pos < end) {
    const int64_t channel = pos % channels;
    const int64_t run = std::min(end - pos, channels - channel);
    k.channel_run(x + pos, out + pos, run, params, channel, streaming);
    pos += run;
  }
}

// inner > 1: rows of `inner` elements, each row under one channel's quantizer.
void walk_channel_rows(const SpanKernels& k, const float* x, float* out, int64_t begin, int64_t end, int64_t channels,
                       int64_t inner, const ChannelQuantParams& params, bool streaming) {
  int64_t pos = begin;
  while (pos < end) {
    const int64_t row = pos / inner;
    const int64_t run = std::min(end - pos, (row + 1) * inner - pos);
    const int64_t c = row % channels;
    const AffineQuantParams p{params.scale[c], params.zero_point[c], params.q_max[c]};
    k.uniform(x + pos, out + pos, run, p, streaming);
    pos += run;
  }
}

}  // namespace

void fake_quant_per_tensor_cpu(const float* x, float* out, int64_t begin, int64_t end,
                               const AffineQuantParams& params) {
  if (end <= begin) return;
  const SpanKernels& k = span_kernels();
  const bool streaming = end - begin >= kStreamingMinElements;
  k.uniform(x + begin, out + begin, end - begin, params, streaming);
  if (streaming) k.finish_streaming();
}

void fake_quant_per_channel_cpu(const float* x, float* out, int64_t begin, int64_t end, int64_t channels, int64_t inner,
                                const ChannelQuantParams& params) {
  if (end <= begin) return;
  const SpanKernels& k = span_kernels();
  const bool streaming = end - begin >= kStreamingMinElements;
  if (inner == 1) {
    walk_interleaved_channels(k, x, out, begin, end, channels, params, streaming);
  } else {
    walk_channel_rows(k, x, out, begin, end, channels, inner, params, streaming);
  }
  if (streaming) k.finish_streaming();
}

const char* fake_quant_cpu_isa() { return span_kernels().isa; }

}  // namespace quantsim::kernels
