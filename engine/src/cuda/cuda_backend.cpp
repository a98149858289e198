// The CUDA backend: projections and both products on cuBLAS, scale + mask + normalisation in one kernel,
// dropout with the noise the host drew, so that it hides exactly the cells the CPU hides.

#include "cuda/cuda_backend.hpp"

#include <climits>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cublas_library.hpp"
#include "cuda/cuda_support.hpp"
#include "cuda/kernels.hpp"

namespace attnscope::cuda {
namespace {

constexpr int kDevice = 0;

// ATTNSCOPE_CUDA_MAX_BYTES caps the device memory one problem may need, so that the fallback to the CPU can
// be tried on any GPU; unset, the device's memory is the limit.
std::size_t memory_limit() {
  const char* text = std::getenv("ATTNSCOPE_CUDA_MAX_BYTES");
  if (!text || !*text) return std::numeric_limits<std::size_t>::max();
  char* end = nullptr;
  const unsigned long long limit = std::strtoull(text, &end, 10);
  if (*end != '\0')
    throw Error(std::string("ATTNSCOPE_CUDA_MAX_BYTES must be a number of bytes, not '") + text + "'");
  return static_cast<std::size_t>(limit);
}

std::string shape_text(long long n, int heads) {
  return std::to_string(n) + " tokens × " + std::to_string(heads) + (heads == 1 ? " head" : " heads");
}

// Reserves every buffer or throws DeviceError saying how much the problem needs and how much is free.
class Reservation {
 public:
  Reservation(long long n, int heads, std::size_t limit) : n_(n), heads_(heads), limit_(limit) {}

  void add(DeviceBuffer& buffer, std::size_t bytes) {
    buffers_.push_back({&buffer, bytes});
    total_ += bytes;
  }

  void commit() const {
    if (total_ > limit_)
      throw DeviceError("the GPU may not use that much memory: " + shape_text(n_, heads_) + " need " +
                        format_bytes(total_) +
                        ", more than ATTNSCOPE_CUDA_MAX_BYTES=" + std::to_string(limit_));
    for (const auto& [buffer, bytes] : buffers_) {
      const cudaError_t error = buffer->reserve(bytes);
      if (error == cudaErrorMemoryAllocation) {
        for (const auto& entry : buffers_) entry.first->release();
        std::size_t free = 0, total = 0;
        const std::string available = cudaMemGetInfo(&free, &total) == cudaSuccess
                                          ? format_bytes(free) + " of " + format_bytes(total) + " free"
                                          : "the free memory is unknown";
        cudaGetLastError();
        throw DeviceError("out of GPU memory: " + shape_text(n_, heads_) + " need " + format_bytes(total_) +
                          " (" + available + ")");
      }
      check(error, "allocating device memory");
    }
  }

 private:
  long long n_;
  int heads_;
  std::size_t limit_;
  std::size_t total_ = 0;
  std::vector<std::pair<DeviceBuffer*, std::size_t>> buffers_;
};

template <class T>
void upload(const DeviceBuffer& to, const T* from, std::size_t count, const Stream& stream,
            const char* what) {
  check(cudaMemcpyAsync(to.as<T>(), from, count * sizeof(T), cudaMemcpyHostToDevice, stream.get()), what);
}

template <class T>
void download(T* to, const T* from, std::size_t count, const Stream& stream, const char* what) {
  check(cudaMemcpyAsync(to, from, count * sizeof(T), cudaMemcpyDeviceToHost, stream.get()), what);
}

std::vector<Eigen::Index> empty_rows_of(const MaskMatrix& mask) {
  std::vector<Eigen::Index> rows;
  for (Eigen::Index i = 0; i < mask.rows(); ++i)
    if (mask.row(i).minCoeff() == 1) rows.push_back(i);
  return rows;
}

// The sizes the kernels and cuBLAS index with int; beyond them the CPU computes.
void require_int_sizes(long long n, long long heads, long long head_dim) {
  if (n > INT_MAX / 4 || heads > 65535 || heads * n > INT_MAX || 3 * heads * head_dim > INT_MAX)
    throw DeviceError("the problem is larger than the CUDA backend indexes (" +
                      shape_text(n, static_cast<int>(heads)) + ")");
}

class CudaBackend final : public Backend {
 public:
  CudaBackend() : limit_(memory_limit()) {
    check(cudaSetDevice(kDevice), "selecting the GPU");
    stream_.emplace();
    blas_.emplace(*stream_);
  }

  std::string_view name() const override { return "cuda"; }

  AttentionResult compute(const AttentionProblem& problem, const CancelToken& cancel) override {
    try {
      return compute_on_device(problem, cancel);
    } catch (const DeviceError&) {
      release();  // a smaller problem may fit next time
      throw;
    }
  }

 private:
  struct Workspace {
    DeviceBuffer input, projection_weights, projection_bias, projected, scores, weights, noise, dropped,
        context, mask, bad_row;
  };

  void release() {
    for (DeviceBuffer* buffer :
         {&work_.input, &work_.projection_weights, &work_.projection_bias, &work_.projected, &work_.scores,
          &work_.weights, &work_.noise, &work_.dropped, &work_.context, &work_.mask, &work_.bad_row})
      buffer->release();
  }

  AttentionResult compute_on_device(const AttentionProblem& problem, const CancelToken& cancel) {
    const Eigen::Index n = problem.input.rows(), d_in = problem.input.cols();
    if (!problem.heads) throw Error("CUDA backend: the problem has no parameters (AttentionProblem::heads)");
    const int heads = static_cast<int>(problem.heads->size());
    AttentionResult result;
    result.device = "cuda";
    result.projected_rows = n;
    result.mask = problem.mask;
    result.empty_rows = empty_rows_of(problem.mask);
    if (heads == 0 || n == 0) return result;
    const Eigen::Index d = problem.heads->front().w_query.cols();
    validate(problem, d);
    require_int_sizes(n, heads, d);
    cancel.throw_if_cancelled();

    // Every head's W_q, then every head's W_k, then W_v, side by side: one product X · W gives the projected
    // n × 3·heads·d matrix, and head h's queries are its columns [h·d, (h+1)·d).
    const Eigen::Index width = 3 * heads * d;
    Matrix packed(d_in, width);
    Vector bias = Vector::Zero(width);
    bool any_bias = false;
    for (int h = 0; h < heads; ++h) {
      const HeadProjection& head = (*problem.heads)[h];
      const Matrix* weights[3] = {&head.w_query, &head.w_key, &head.w_value};
      const std::optional<Vector>* biases[3] = {&head.b_query, &head.b_key, &head.b_value};
      for (int p = 0; p < 3; ++p) {
        const Eigen::Index column = (p * heads + h) * d;
        packed.middleCols(column, d) = *weights[p];
        if (*biases[p]) {
          bias.middleCols(column, d) = **biases[p];
          any_bias = true;
        }
      }
    }
    const bool dropout = !problem.dropout_noise.empty();
    const std::size_t cells = static_cast<std::size_t>(n) * n, head_cells = cells * heads;

    check(cudaSetDevice(kDevice), "selecting the GPU");
    Reservation reservation(n, heads, limit_);
    reservation.add(work_.input, sizeof(float) * n * d_in);
    reservation.add(work_.projection_weights, sizeof(float) * d_in * width);
    if (any_bias) reservation.add(work_.projection_bias, sizeof(float) * width);
    reservation.add(work_.projected, sizeof(float) * n * width);
    reservation.add(work_.scores, sizeof(float) * head_cells);
    reservation.add(work_.weights, sizeof(float) * head_cells);
    if (dropout) {
      reservation.add(work_.noise, sizeof(float) * head_cells);
      reservation.add(work_.dropped, sizeof(float) * head_cells);
    }
    reservation.add(work_.context, sizeof(float) * heads * n * d);
    reservation.add(work_.mask, cells);
    reservation.add(work_.bad_row, sizeof(int));
    reservation.commit();

    const Stream& stream = *stream_;
    const int no_bad_row = INT_MAX;
    upload(work_.input, problem.input.data(), n * d_in, stream, "copying the embeddings to the GPU");
    upload(work_.projection_weights, packed.data(), d_in * width, stream, "copying the weights to the GPU");
    if (any_bias) upload(work_.projection_bias, bias.data(), width, stream, "copying the biases to the GPU");
    upload(work_.mask, problem.mask.data(), cells, stream, "copying the mask to the GPU");
    upload(work_.bad_row, &no_bad_row, 1, stream, "resetting the row check");
    if (dropout)
      for (int h = 0; h < heads; ++h)
        check(cudaMemcpyAsync(work_.noise.as<float>() + h * cells, problem.dropout_noise[h].data(),
                              cells * sizeof(float), cudaMemcpyHostToDevice, stream.get()),
              "copying the dropout mask to the GPU");

    const float one = 1.0f, zero = 0.0f;
    float* projected = work_.projected.as<float>();
    check(cublas().sgemm(blas_->get(), CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(width), static_cast<int>(n),
                         static_cast<int>(d_in), &one, work_.projection_weights.as<float>(),
                         static_cast<int>(width), work_.input.as<float>(), static_cast<int>(d_in), &zero,
                         projected, static_cast<int>(width)),
          "projecting the embeddings");
    if (any_bias)
      check(add_row_bias(projected, work_.projection_bias.as<float>(), static_cast<int>(n),
                         static_cast<int>(width), stream.get()),
            "adding the biases");
    const float* queries = projected;
    const float* keys = projected + heads * d;
    const float* values = projected + 2 * heads * d;
    batched_scores(blas_->get(), queries, keys, static_cast<int>(width), d, work_.scores.as<float>(),
                   static_cast<int>(n), static_cast<int>(d), heads);

    NormalizeRows normalize;
    normalize.scores = work_.scores.as<float>();
    normalize.weights = work_.weights.as<float>();
    if (dropout) {
      normalize.noise = work_.noise.as<float>();
      normalize.dropped = work_.dropped.as<float>();
    }
    normalize.mask = work_.mask.as<std::uint8_t>();
    normalize.bad_row = work_.bad_row.as<int>();
    normalize.n = static_cast<int>(n);
    normalize.heads = heads;
    normalize.divisor = problem.scale_divisor;
    normalize.softmax = problem.normalization == Normalization::softmax;
    check(normalize_rows(normalize, stream.get()), "normalising the scores");
    batched_context(blas_->get(), dropout ? normalize.dropped : normalize.weights, values,
                    static_cast<int>(width), d, work_.context.as<float>(), static_cast<int>(n),
                    static_cast<int>(d), heads);

    int bad_row = no_bad_row;
    download(&bad_row, work_.bad_row.as<int>(), 1, stream, "reading the row check");
    stream.synchronize("computing attention");
    if (bad_row != no_bad_row)
      throw Error("sum normalization: the visible scores of token " + std::to_string(bad_row % n + 1) +
                  " add up to 0, so they cannot be divided by their sum; use softmax");
    cancel.throw_if_cancelled();

    for (int h = 0; h < heads; ++h) {
      HeadResult head;
      head.scale = 1.0f / problem.scale_divisor;
      Matrix* projections[3] = {&head.queries, &head.keys, &head.values};
      for (int p = 0; p < 3; ++p) {
        projections[p]->resize(n, d);
        check(cudaMemcpy2DAsync(projections[p]->data(), d * sizeof(float), projected + (p * heads + h) * d,
                                width * sizeof(float), d * sizeof(float), n, cudaMemcpyDeviceToHost,
                                stream.get()),
              "copying the projections from the GPU");
      }
      head.weights.resize(n, n);
      head.context.resize(n, d);
      if (problem.keep_scores) {
        head.scores.resize(n, n);
        download(head.scores.data(), work_.scores.as<float>() + h * cells, cells, stream,
                 "copying the scores from the GPU");
      }
      download(head.weights.data(), work_.weights.as<float>() + h * cells, cells, stream,
               "copying the weights from the GPU");
      if (dropout) {
        head.dropout_weights.emplace(n, n);
        download(head.dropout_weights->data(), work_.dropped.as<float>() + h * cells, cells, stream,
                 "copying the dropout weights from the GPU");
      }
      download(head.context.data(), work_.context.as<float>() + h * n * d, static_cast<std::size_t>(n * d),
               stream, "copying the context from the GPU");
      result.heads.push_back(std::move(head));
    }
    stream.synchronize("copying the results from the GPU");
    return result;
  }

  // Every mechanism gives every head the same shapes; anything else is a caller's mistake.
  static void validate(const AttentionProblem& problem, Eigen::Index d) {
    const Eigen::Index n = problem.input.rows(), d_in = problem.input.cols();
    for (const HeadProjection& head : *problem.heads) {
      for (const Matrix* w : {&head.w_query, &head.w_key, &head.w_value})
        if (w->rows() != d_in || w->cols() != d)
          throw Error("CUDA backend: the heads' projections differ in shape");
      for (const std::optional<Vector>* b : {&head.b_query, &head.b_key, &head.b_value})
        if (*b && (*b)->cols() != d) throw Error("CUDA backend: a bias does not match its projection");
    }
    if (problem.mask.rows() != n || problem.mask.cols() != n)
      throw Error("CUDA backend: the mask is not n × n");
    if (!problem.dropout_noise.empty()) {
      if (problem.dropout_noise.size() != problem.heads->size())
        throw Error("CUDA backend: there must be one dropout mask per head");
      for (const auto& noise : problem.dropout_noise)
        if (noise.size() != static_cast<std::size_t>(n * n))
          throw Error("CUDA backend: a dropout mask is not n × n");
    }
  }

  std::size_t limit_;
  std::optional<Stream> stream_;
  std::optional<Blas> blas_;  // after stream_, so that it is destroyed first
  Workspace work_;
};

}  // namespace

std::unique_ptr<Backend> make_backend() {
  return std::make_unique<CudaBackend>();
}

StepTiming time_step(const StepProblem& problem, int repeat) {
  const int n = problem.tokens, d = problem.head_dim, heads = problem.heads;
  require_int_sizes(n, heads, d);
  const std::size_t cells = static_cast<std::size_t>(n) * n, head_cells = cells * heads;
  const std::size_t head_values = static_cast<std::size_t>(heads) * n * d;

  check(cudaSetDevice(kDevice), "selecting the GPU");
  Stream stream;
  Blas blas(stream);
  DeviceBuffer queries, keys, values, scores, weights, context, sgemm_context, mask;
  Reservation reservation(n, heads, memory_limit());
  for (DeviceBuffer* buffer : {&queries, &keys, &values, &context, &sgemm_context})
    reservation.add(*buffer, sizeof(float) * head_values);
  reservation.add(scores, sizeof(float) * head_cells);
  reservation.add(weights, sizeof(float) * head_cells);
  reservation.add(mask, cells);
  reservation.commit();
  upload(queries, problem.queries.data(), head_values, stream, "copying the queries to the GPU");
  upload(keys, problem.keys.data(), head_values, stream, "copying the keys to the GPU");
  upload(values, problem.values.data(), head_values, stream, "copying the values to the GPU");
  upload(mask, problem.mask.data(), cells, stream, "copying the mask to the GPU");

  const long long stride = static_cast<long long>(n) * d;
  NormalizeRows normalize;
  normalize.scores = scores.as<float>();
  normalize.weights = weights.as<float>();
  normalize.mask = mask.as<std::uint8_t>();
  normalize.n = n;
  normalize.heads = heads;
  normalize.divisor = problem.scale_divisor;
  const auto step = [&] {
    batched_scores(blas.get(), queries.as<float>(), keys.as<float>(), d, stride, scores.as<float>(), n, d,
                   heads);
    check(normalize_rows(normalize, stream.get()), "normalising the scores");
    batched_context(blas.get(), weights.as<float>(), values.as<float>(), d, stride, context.as<float>(), n, d,
                    heads);
  };
  const auto sgemm = [&] {
    batched_scores(blas.get(), queries.as<float>(), keys.as<float>(), d, stride, scores.as<float>(), n, d,
                   heads);
    batched_context(blas.get(), scores.as<float>(), values.as<float>(), d, stride, sgemm_context.as<float>(),
                    n, d, heads);
  };

  StepTiming timing;
  Event start, stop;
  const auto time = [&](const auto& run, std::vector<double>& milliseconds) {
    run();  // warm-up: cuBLAS picks its kernels, the clocks rise
    for (int r = 0; r < repeat; ++r) {
      start.record(stream);
      run();
      stop.record(stream);
      milliseconds.push_back(stop.milliseconds_since(start));
    }
  };
  time(step, timing.step_ms);
  time(sgemm, timing.sgemm_ms);
  timing.context.resize(head_values);
  download(timing.context.data(), context.as<float>(), head_values, stream,
           "copying the context from the GPU");
  stream.synchronize("timing the attention step");
  return timing;
}

}  // namespace attnscope::cuda
