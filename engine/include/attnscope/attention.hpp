#pragma once
// The mechanisms of chapter 3: draws their parameters as PyTorch would, runs them on a backend.

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
void compute_attention_masks(const AttentionConfig& config, const Matrix& input,
                             const ModuleParameters& parameters, const std::vector<MaskSpec>& masks,
                             Backend& backend, const CancelToken& cancel,
                             const std::function<void(std::size_t mask_index, AttentionResult result)>& each);

}  // namespace attnscope
