#pragma once
// Reads .safetensors files (Hugging Face's tensor format): an 8-byte little-endian header length N, N bytes
// of JSON naming each tensor's dtype, shape and byte span, then the data area the spans tile exactly.
//
// A file is memory-mapped, never read whole: opening a 500 MB checkpoint touches only its header, and a
// float32 tensor whose data is 4-byte aligned is handed out in place (zero-copy). The header is validated
// completely before anything is handed out, so that a malformed or hostile file fails with an Error naming
// the file and the problem rather than reading outside the file, overflowing or allocating what it does not
// hold. The data must not change while it is mapped: a file truncated by another process under a live mapping
// makes reading it fault (SIGBUS), as with any mmap.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/matrix.hpp"

namespace attnscope {

enum class SafetensorsDtype {
  BOOL,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64,
  U64
};

std::string_view to_string(SafetensorsDtype dtype);
std::size_t dtype_size(SafetensorsDtype dtype);  // bytes per element

// A tensor's values as float32: in place in the mapping (F32 with aligned data) or converted (F16, BF16, F32
// misaligned) into storage it owns. Either way it keeps what it points into alive, so it outlives the file
// object it came from.
class FloatTensor {
 public:
  FloatTensor() = default;
  const std::vector<std::uint64_t>& shape() const { return shape_; }
  const float* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool zero_copy() const { return zero_copy_; }
  // The values as a rows × cols row-major matrix: a 2-D tensor as it is, a 1-D one as a single row.
  Eigen::Map<const Matrix> matrix() const;
  Eigen::Map<const Vector> vector() const;  // all values as one row

 private:
  friend class SafetensorsFile;
  std::vector<std::uint64_t> shape_;
  const float* data_ = nullptr;
  std::size_t size_ = 0;
  bool zero_copy_ = false;
  std::shared_ptr<const void> storage_;  // the mapping or the converted values
};

class SafetensorsFile {
 public:
  struct Tensor {
    std::string name;
    SafetensorsDtype dtype = SafetensorsDtype::F32;
    std::vector<std::uint64_t> shape;
    std::uint64_t begin = 0, end = 0;  // byte span in the data area
    std::uint64_t element_count() const;
  };

  // The header may be at most this long (as the reference implementation allows).
  static constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
  // Tensors of more dimensions are rejected (no real checkpoint comes near).
  static constexpr std::size_t kMaxDimensions = 32;

  // Memory-maps `path` and validates it. Throws Error "NAME: problem"; NAME is `name`, by default the file
  // name.
  static SafetensorsFile open(const std::filesystem::path& path, std::string_view name = {});
  // Validates the bytes of a whole file held in memory, which must outlive the result and every tensor it
  // hands out; `name` starts every error message.
  static SafetensorsFile parse(std::span<const std::byte> bytes, std::string name);

  const std::string& name() const { return name_; }
  // In the order of their data (ascending byte offset).
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const Tensor* find(std::string_view tensor_name) const;  // null when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  std::span<const std::byte> bytes(const Tensor& tensor) const;
  // F32, F16 or BF16 as float32; Error naming the tensor for other dtypes. A converted tensor's source
  // pages are let go from the mapping (they stay in the page cache), so that they do not count twice.
  FloatTensor to_float(const Tensor& tensor) const;
  // Maps the tensor's pages in now (from the page cache, or reading the file), so that the first pass over
  // a zero-copy tensor does not take a page fault per page. No effect on a file parse()d from memory.
  void prefault(const Tensor& tensor) const;
  // Lets the tensor's whole pages go from this process's mapping (they stay in the page cache, and a later
  // read maps them in again): for a caller that keeps the values in its own layout.
  void release(const Tensor& tensor) const;

 private:
  SafetensorsFile() = default;
  void parse_header(std::span<const std::byte> bytes);

  std::string name_;
  std::shared_ptr<const void> mapping_;  // keeps the mapped file alive; null for parse()
  const std::byte* data_ = nullptr;      // the data area
  std::uint64_t data_size_ = 0;
  std::vector<Tensor> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// IEEE half and bfloat16 bit patterns to float32, exactly.
float half_to_float(std::uint16_t bits);
float bfloat16_to_float(std::uint16_t bits);

}  // namespace attnscope
