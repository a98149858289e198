#pragma once
// Backends compute attention heads from fully drawn parameters; the registry says which exist here.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/config.hpp"
#include "attnscope/matrix.hpp"
#include "attnscope/result.hpp"

namespace attnscope {

enum class Device { cpu, cuda, automatic };
std::string_view to_string(Device device);
Device parse_device(std::string_view name);  // cpu | cuda | auto; throws Error

// Set by another thread to abandon a computation; backends check it between heads and throw Cancelled.
class CancelToken {
 public:
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  void throw_if_cancelled() const;

 private:
  std::atomic<bool> cancelled_{false};
};

// One head's projections, applied as x · w + b (w is d_in × head_dim: a Linear's weight transposed).
struct HeadProjection {
  Matrix w_query, w_key, w_value;
  std::optional<Vector> b_query, b_key, b_value;
};

// Takes heads of one mask's result as soon as they are computed, before the result is handed on: heads
// [first_head, first_head + heads.size()) of mask `mask_index`, hidden cells marked in `mask`. It may let go
// of (empty) the heads' weights, scores and dropout weights; it must leave their queries, keys, values,
// context and row_stats.
using HeadSink = std::function<void(std::size_t mask_index, std::size_t first_head,
                                    std::span<HeadResult> heads, const MaskMatrix& mask)>;

// Everything a backend needs, already drawn from the generator, so every backend computes the same numbers.
struct AttentionProblem {
  Matrix input;  // n × d_in
  // In head order; shared, not copied: a viewer computes every edit and mask with the same parameters.
  std::shared_ptr<const std::vector<HeadProjection>> heads;
  // Scaled score = score / scale_divisor: PyTorch divides by √head_dim rather than multiplying by its
  // inverse.
  float scale_divisor = 1.0f;
  MaskMatrix mask;  // n × n
  Normalization normalization = Normalization::softmax;
  std::vector<std::vector<float>> dropout_noise;  // per head n·n multipliers (row-major), empty: no dropout
  bool keep_scores = true;  // false: HeadResult::scores stays empty (saves n² floats per head)
  // Also fill HeadResult::row_stats: the CPU backend computes them with each block's weights, while they are
  // in cache, at a fraction of a separate pass's cost; other backends leave them empty.
  bool row_stats = false;
  std::uint64_t parameters_id = 0;  // ModuleParameters::id of `heads` (0: unknown)
  // Per mask of compute_masks, an earlier result (or null) that a backend may copy unchanged rows from
  // instead of computing them. The CPU backend copies a block of query rows only when the earlier result
  // has the same parameters_id (not 0), normalisation, scale and no dropout, and when every input the block
  // reads (its queries, the keys and values it sees, its mask rows) is equal and the block has the same
  // shape, so that the copy has exactly the bits the computation would give. Other backends ignore it.
  std::vector<const AttentionResult*> earlier;
  // Per mask of compute_masks, a result (or null) that the caller holds alone and will not read again: the
  // CPU backend may take its n × n matrices over instead of allocating new ones. When the earlier result
  // copied rows from it (AttentionResult::copied_from) and the three have one length, those rows of its
  // weights and scores are already the earlier's, bit for bit, and are not copied again: typing at the end
  // of a causal text then writes one block of rows, not the text's. Other backends ignore it.
  std::vector<AttentionResult*> recycled;
  // When set, compute_masks hands each head to it before the head's result goes to `each` (compute()
  // ignores it). The CPU backend then computes as many heads at a time as it has threads and hands each
  // group when it is done, so that a caller that reduces each head's n × n matrices and lets them go never
  // holds more than a group's: at 8,192 tokens a head's weights are 268 MB, twelve heads' 3.2 GB. Other
  // backends hand every head of a mask once its result is computed.
  HeadSink each_heads;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Fills heads, mask and empty_rows of the result; the output projection is the caller's.
  virtual AttentionResult compute(const AttentionProblem& problem, const CancelToken& cancel) = 0;

  // compute() with each of `masks` in turn in place of problem.mask, handing each result to `each` as soon
  // as it is done, so that a caller reducing the results never holds every mask's n² matrices at once. The
  // default computes them one by one; the CPU backend projects the input once for all of them.
  using MaskResultSink = std::function<void(std::size_t mask_index, AttentionResult result)>;
  virtual void compute_masks(const AttentionProblem& problem, const std::vector<MaskMatrix>& masks,
                             const CancelToken& cancel, const MaskResultSink& each);
};

struct BackendInfo {
  Device device = Device::cpu;
  std::string name;  // "cpu", "cuda"
  bool available = false;
  std::string device_name;  // e.g. "CPU", "NVIDIA H100 80GB HBM3"; empty when unavailable
  std::string description;  // device name, memory, versions when available; the reason when not
};

std::vector<BackendInfo> list_backends();
// cpu, cuda or automatic (CUDA when a device is present, else CPU). Throws Error with the reason when the
// requested backend is unavailable. A CUDA backend whose device fails during compute (out of memory, a failed
// launch) computes on the CPU instead and says why in AttentionResult::fallback_reason.
std::unique_ptr<Backend> make_backend(Device device);

}  // namespace attnscope
