#pragma once
// The mechanisms of chapter 3: draws their parameters as PyTorch would, runs them on a backend.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "attnscope/backend.hpp"
#include "attnscope/config.hpp"
#include "attnscope/matrix.hpp"
#include "attnscope/result.hpp"
#include "attnscope/torch_random.hpp"

namespace attnscope {

// The module's trainable parameters as torch.manual_seed(config.seed) + the book's constructor draws them.
struct ModuleParameters {
  std::shared_ptr<const std::vector<HeadProjection>> heads;  // shared with every problem made from them
  std::optional<LinearLayer> out_proj;                       // multihead only
  // Distinct for every draw_parameters call (0: made some other way), so that a result can say which
  // parameters computed it and a later computation may copy its unchanged rows
  // (AttentionResult::parameters_id).
  std::uint64_t id = 0;
};

ModuleParameters draw_parameters(const AttentionConfig& config, int d_in, TorchGenerator& generator);

// Builds the problem (parameters, mask, dropout noise) for `input` (n × d_in). Throws Error.
AttentionProblem make_problem(const AttentionConfig& config, const Matrix& input,
                              ModuleParameters* parameters_out = nullptr);

// Validates, draws and computes on `backend`; the result's output is the module's forward output.
AttentionResult compute_attention(const AttentionConfig& config, const Matrix& input, Backend& backend,
                                  const CancelToken& cancel);
AttentionResult compute_attention(const AttentionConfig& config, const Matrix& input);  // on the CPU backend
// The same with `parameters` already drawn by draw_parameters for this config's mechanism, sizes, bias and
// seed: a viewer recomputing as the text changes draws them once. Without dropout only (its noise continues
// the parameters' random stream); throws Error otherwise.
AttentionResult compute_attention(const AttentionConfig& config, const Matrix& input,
                                  const ModuleParameters& parameters, Backend& backend,
                                  const CancelToken& cancel);
// The same for each of `masks` in turn, in place of config's mask, projecting the input once: a viewer shows
// several masks of one text. `each` receives each mask's result (its output and compute_ms included) as soon
// as it is done.
// `earlier`, when given, holds per mask an earlier result of these parameters (or null), typically the text
// before an edit: rows whose every input is unchanged (a causal row before the edited token, say) may be
// copied from it rather than computed, to the same bits (AttentionProblem::earlier). Read during the call
// only.
// `each_heads`, when given, takes each mask's heads before `each` takes its result, and may let go of their
// n × n matrices (AttentionProblem::each_heads): a long text's twelve heads are then never all held at once.
// `recycled`, when given, holds per mask a result (or null) the caller gives up: its matrices may be reused
// (AttentionProblem::recycled), after which it holds nothing to read.
void compute_attention_masks(const AttentionConfig& config, const Matrix& input,
                             const ModuleParameters& parameters, const std::vector<MaskSpec>& masks,
                             Backend& backend, const CancelToken& cancel,
                             const std::function<void(std::size_t mask_index, AttentionResult result)>& each,
                             const std::vector<const AttentionResult*>& earlier = {},
                             const HeadSink& each_heads = {},
                             const std::vector<AttentionResult*>& recycled = {});

}  // namespace attnscope
