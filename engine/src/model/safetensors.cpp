// The safetensors format: https://github.com/huggingface/safetensors (README, "Format"). The header is read
// with nlohmann's SAX parser straight into the tensor table, so a hostile header costs memory in proportion
// to its length and no JSON tree is built.

#include "attnscope/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "attnscope/error.hpp"
#include "readers.hpp"

#if defined(__F16C__)
#include <immintrin.h>
#endif

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace attnscope {
namespace {

using detail::list_dimensions;
using detail::quote;

constexpr std::array<std::pair<std::string_view, SafetensorsDtype>, 15> kDtypes{{
    {"BOOL", SafetensorsDtype::BOOL},
    {"U8", SafetensorsDtype::U8},
    {"I8", SafetensorsDtype::I8},
    {"F8_E5M2", SafetensorsDtype::F8_E5M2},
    {"F8_E4M3", SafetensorsDtype::F8_E4M3},
    {"I16", SafetensorsDtype::I16},
    {"U16", SafetensorsDtype::U16},
    {"F16", SafetensorsDtype::F16},
    {"BF16", SafetensorsDtype::BF16},
    {"I32", SafetensorsDtype::I32},
    {"U32", SafetensorsDtype::U32},
    {"F32", SafetensorsDtype::F32},
    {"F64", SafetensorsDtype::F64},
    {"I64", SafetensorsDtype::I64},
    {"U64", SafetensorsDtype::U64},
}};

std::string format_shape(const std::vector<std::uint64_t>& shape) {
  return "[" + list_dimensions(shape) + "]";
}

// The reason in one of nlohmann's parse error messages, e.g. "syntax error while parsing value - invalid
// literal", without the position prefix (the caller gives the byte) and the echo of the input.
std::string json_reason(const std::string& what) {
  std::string_view reason = what;
  if (const auto colon = reason.find(": "); colon != std::string_view::npos) reason.remove_prefix(colon + 2);
  if (const auto echo = reason.find("; last read"); echo != std::string_view::npos)
    reason = reason.substr(0, echo);
  return detail::quote(reason, 120);
}

// Builds the tensor table from the header's SAX events. Every callback returns false (stopping the parser)
// at the first problem, which `problem` then holds.
class HeaderReader {
 public:
  using json = nlohmann::json;

  std::vector<SafetensorsFile::Tensor> tensors;
  std::map<std::string, std::string> metadata;
  std::string problem;

  bool null() { return unexpected("null"); }
  bool boolean(bool) { return unexpected("a boolean"); }
  bool number_integer(json::number_integer_t value) {
    // nlohmann reports non-negative integers as unsigned, so this one is negative.
    if (state_ == State::shape_item || state_ == State::offsets_item)
      return fail(tensor_prefix() + (state_ == State::shape_item ? "shape" : "data_offsets") + " holds " +
                  std::to_string(value) + ", which is negative");
    return unexpected("a number");
  }
  bool number_unsigned(json::number_unsigned_t value) {
    if (state_ == State::shape_item) {
      if (current().shape.size() >= SafetensorsFile::kMaxDimensions)
        return fail(tensor_prefix() + "shape has more than " +
                    std::to_string(SafetensorsFile::kMaxDimensions) + " dimensions");
      current().shape.push_back(value);
      return true;
    }
    if (state_ == State::offsets_item) {
      if (offsets_count_ >= 2) return fail(tensor_prefix() + "data_offsets must be [begin, end]: 2 numbers");
      offsets_[offsets_count_++] = value;
      return true;
    }
    return unexpected("a number");
  }
  bool number_float(json::number_float_t, const std::string& text) {
    if (state_ == State::shape_item || state_ == State::offsets_item)
      return fail(tensor_prefix() + (state_ == State::shape_item ? "shape" : "data_offsets") + " holds " +
                  quote(text, 24) + ", which is not an integer below 2^64");
    return unexpected("a number");
  }
  bool string(std::string& value) {
    switch (state_) {
      case State::metadata_value:
        metadata.emplace(std::move(key_), std::move(value));
        state_ = State::metadata_key;
        return true;
      case State::dtype_value: {
        const auto found = std::find_if(kDtypes.begin(), kDtypes.end(),
                                        [&](const auto& entry) { return entry.first == value; });
        if (found == kDtypes.end())
          return fail(
              tensor_prefix() + "unknown dtype " + quote(value, 24) +
              " (expected BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64 "
              "or U64)");
        current().dtype = found->second;
        state_ = State::tensor_key;
        return true;
      }
      default:
        return unexpected("a string");
    }
  }
  bool binary(json::binary_t&) { return unexpected("binary data"); }

  bool start_object(std::size_t) {
    switch (state_) {
      case State::top:
        state_ = State::top_key;
        return true;
      case State::metadata_open:
        state_ = State::metadata_key;
        return true;
      case State::tensor_open:
        state_ = State::tensor_key;
        seen_fields_ = 0;
        return true;
      default:
        return unexpected("an object");
    }
  }
  bool end_object() {
    switch (state_) {
      case State::top_key:
        state_ = State::done;
        return true;
      case State::metadata_key:
        state_ = State::top_key;
        return true;
      case State::tensor_key:
        if (!(seen_fields_ & kDtype)) return fail(tensor_prefix() + "has no dtype");
        if (!(seen_fields_ & kShape)) return fail(tensor_prefix() + "has no shape");
        if (!(seen_fields_ & kOffsets)) return fail(tensor_prefix() + "has no data_offsets");
        state_ = State::top_key;
        return true;
      default:
        return unexpected("the end of an object");  // not reached: the parser matches brackets
    }
  }
  bool start_array(std::size_t) {
    switch (state_) {
      case State::shape_open:
        state_ = State::shape_item;
        return true;
      case State::offsets_open:
        offsets_count_ = 0;
        state_ = State::offsets_item;
        return true;
      default:
        return unexpected("an array");
    }
  }
  bool end_array() {
    switch (state_) {
      case State::shape_item:
        state_ = State::tensor_key;
        return true;
      case State::offsets_item:
        if (offsets_count_ != 2)
          return fail(tensor_prefix() + "data_offsets must be [begin, end]: 2 numbers");
        current().begin = offsets_[0];
        current().end = offsets_[1];
        state_ = State::tensor_key;
        return true;
      default:
        return unexpected("the end of an array");
    }
  }
  bool key(std::string& name) {
    switch (state_) {
      case State::top_key:
        if (name == "__metadata__") {
          if (seen_metadata_) return fail("'__metadata__' appears twice");
          seen_metadata_ = true;
          state_ = State::metadata_open;
          return true;
        }
        if (!tensor_names_.insert(name).second) return fail("tensor " + quote(name) + " appears twice");
        tensors.emplace_back().name = std::move(name);
        state_ = State::tensor_open;
        return true;
      case State::metadata_key:
        if (metadata.count(name)) return fail("'__metadata__' has the key " + quote(name) + " twice");
        key_ = std::move(name);
        state_ = State::metadata_value;
        return true;
      case State::tensor_key: {
        unsigned field = 0;
        if (name == "dtype") {
          field = kDtype, state_ = State::dtype_value;
        } else if (name == "shape") {
          field = kShape, state_ = State::shape_open;
        } else if (name == "data_offsets") {
          field = kOffsets, state_ = State::offsets_open;
        } else {
          return fail(tensor_prefix() + "unknown field " + quote(name) +
                      " (a tensor has dtype, shape and data_offsets)");
        }
        if (seen_fields_ & field) return fail(tensor_prefix() + "field " + quote(name) + " appears twice");
        seen_fields_ |= field;
        return true;
      }
      default:
        return unexpected("a key");  // not reached
    }
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& error) {
    if (problem.empty())
      problem = "the header is not valid JSON (byte " + std::to_string(position) +
                " of the header: " + json_reason(error.what()) + ")";
    return false;
  }

 private:
  enum class State {
    top,
    top_key,
    metadata_open,
    metadata_key,
    metadata_value,
    tensor_open,
    tensor_key,
    dtype_value,
    shape_open,
    shape_item,
    offsets_open,
    offsets_item,
    done,
  };
  static constexpr unsigned kDtype = 1, kShape = 2, kOffsets = 4;

  SafetensorsFile::Tensor& current() { return tensors.back(); }
  std::string tensor_prefix() const { return "tensor " + quote(tensors.back().name) + ": "; }

  bool fail(std::string message) {
    problem = std::move(message);
    return false;
  }
  // What the state expected instead of `what`.
  bool unexpected(const std::string& what) {
    switch (state_) {
      case State::top:
        return fail("the header is " + what + ", not a JSON object");
      case State::metadata_open:
        return fail("'__metadata__' is " + what + ", not an object of strings");
      case State::metadata_value:
        return fail("'__metadata__' maps " + quote(key_) + " to " + what + ", not a string");
      case State::tensor_open:
        return fail("tensor " + quote(tensors.back().name) + " is " + what +
                    ", not an object with dtype, shape and data_offsets");
      case State::dtype_value:
        return fail(tensor_prefix() + "dtype is " + what + ", not a string");
      case State::shape_open:
        return fail(tensor_prefix() + "shape is " + what + ", not an array of integers");
      case State::shape_item:
        return fail(tensor_prefix() + "shape holds " + what + ", not a non-negative integer");
      case State::offsets_open:
        return fail(tensor_prefix() + "data_offsets is " + what + ", not [begin, end]");
      case State::offsets_item:
        return fail(tensor_prefix() + "data_offsets holds " + what + ", not a non-negative integer");
      default:
        return fail("the header holds " + what + " where none belongs");
    }
  }

  State state_ = State::top;
  std::set<std::string, std::less<>> tensor_names_;
  bool seen_metadata_ = false;
  unsigned seen_fields_ = 0;
  std::string key_;
  std::array<std::uint64_t, 2> offsets_{};
  std::size_t offsets_count_ = 0;
};

std::uint64_t load_u64_le(const std::byte* bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
  return value;
}

// A read-only private mapping of a whole file, unmapped when the last FloatTensor or file object lets go.
class Mapping {
 public:
  Mapping(void* address, std::size_t size) : address_(address), size_(size) {}
  ~Mapping() { ::munmap(address_, size_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  const std::byte* data() const { return static_cast<const std::byte*>(address_); }

 private:
  void* address_;
  std::size_t size_;
};

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// `in` need not be 2-byte aligned.
void convert_half(const std::byte* in, float* out, std::size_t count) {
  std::size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= count; i += 8) {
    const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(bits));
  }
#endif
  for (; i < count; ++i) {
    std::uint16_t bits;
    std::memcpy(&bits, in + 2 * i, 2);
    out[i] = half_to_float(bits);
  }
}

}  // namespace

std::string_view to_string(SafetensorsDtype dtype) {
  for (const auto& [name, value] : kDtypes)
    if (value == dtype) return name;
  return "?";
}

std::size_t dtype_size(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::BOOL:
    case SafetensorsDtype::U8:
    case SafetensorsDtype::I8:
    case SafetensorsDtype::F8_E5M2:
    case SafetensorsDtype::F8_E4M3:
      return 1;
    case SafetensorsDtype::I16:
    case SafetensorsDtype::U16:
    case SafetensorsDtype::F16:
    case SafetensorsDtype::BF16:
      return 2;
    case SafetensorsDtype::I32:
    case SafetensorsDtype::U32:
    case SafetensorsDtype::F32:
      return 4;
    case SafetensorsDtype::F64:
    case SafetensorsDtype::I64:
    case SafetensorsDtype::U64:
      return 8;
  }
  return 1;
}

float half_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1Fu;
  std::uint32_t mantissa = bits & 0x3FFu;
  std::uint32_t result;
  if (exponent == 0x1F) {
    result = sign | 0x7F800000u | (mantissa << 13);  // Inf or NaN (payload kept)
  } else if (exponent != 0) {
    result = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    result = sign;  // ±0
  } else {
    // Subnormal: normalise the mantissa.
    int shift = 0;
    while (!(mantissa & 0x400u)) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3FFu;
    result = sign | (static_cast<std::uint32_t>(113 - shift) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(result);
}

float bfloat16_to_float(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

Eigen::Map<const Matrix> FloatTensor::matrix() const {
  if (shape_.size() == 2)
    return {data_, static_cast<Eigen::Index>(shape_[0]), static_cast<Eigen::Index>(shape_[1])};
  return {data_, 1, static_cast<Eigen::Index>(size_)};
}

Eigen::Map<const Vector> FloatTensor::vector() const {
  return {data_, static_cast<Eigen::Index>(size_)};
}

std::uint64_t SafetensorsFile::Tensor::element_count() const {
  std::uint64_t count = 1;
  for (const auto dimension : shape) count *= dimension;  // validated not to overflow
  return count;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path, std::string_view given_name) {
  const std::string name = given_name.empty() ? detail::display_name(path) : std::string(given_name);
  const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int error = errno;
    if (error == ENOENT) throw Error(name + ": no such file");
    throw Error(name + ": cannot be opened (" + std::strerror(error) + ")");
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0)
    throw Error(name + ": cannot be opened (" + std::strerror(errno) + ")");
  if (!S_ISREG(status.st_mode)) throw Error(name + ": not a regular file");
  const auto size = static_cast<std::uint64_t>(status.st_size);
  if (size < 8)
    throw Error(name + ": " + std::to_string(size) +
                " bytes is too short for a safetensors file (it starts with an 8-byte header length)");
  if (size > std::numeric_limits<std::size_t>::max()) throw Error(name + ": too large to map");
  void* address = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (address == MAP_FAILED) throw Error(name + ": cannot be mapped (" + std::strerror(errno) + ")");
  auto mapping = std::make_shared<Mapping>(address, static_cast<std::size_t>(size));
  SafetensorsFile file = parse({mapping->data(), static_cast<std::size_t>(size)}, name);
  file.mapping_ = std::move(mapping);
  return file;
}

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> bytes, std::string name) {
  SafetensorsFile file;
  file.name_ = std::move(name);
  try {
    file.parse_header(bytes);
  } catch (const Error& error) {
    throw Error(file.name_ + ": " + error.what());
  }
  for (std::size_t i = 0; i < file.tensors_.size(); ++i) file.index_.emplace(file.tensors_[i].name, i);
  return file;
}

// Throws Error with the problem alone; parse() puts the file's name in front.
void SafetensorsFile::parse_header(std::span<const std::byte> bytes) {
  if (bytes.size() < 8)
    throw Error(std::to_string(bytes.size()) +
                " bytes is too short for a safetensors file (it starts with an 8-byte header length)");
  const std::uint64_t header_size = load_u64_le(bytes.data());
  if (header_size > kMaxHeaderBytes)
    throw Error("the header length " + std::to_string(header_size) + " is more than the " +
                std::to_string(kMaxHeaderBytes) + " bytes allowed");
  if (header_size > bytes.size() - 8)
    throw Error("truncated: the header length is " + std::to_string(header_size) + " bytes but only " +
                std::to_string(bytes.size() - 8) + " follow it");
  const auto* header = reinterpret_cast<const char*>(bytes.data() + 8);

  HeaderReader reader;
  const bool parsed = nlohmann::json::sax_parse(header, header + header_size, &reader,
                                                nlohmann::json::input_format_t::json, /*strict=*/true);
  if (!parsed || !reader.problem.empty())
    throw Error(reader.problem.empty() ? std::string("the header is not valid JSON") : reader.problem);

  data_ = bytes.data() + 8 + header_size;
  data_size_ = bytes.size() - 8 - header_size;
  for (const Tensor& tensor : reader.tensors) {
    const std::string prefix = "tensor " + quote(tensor.name) + ": ";
    std::uint64_t count = 1;
    for (const auto dimension : tensor.shape)
      if (__builtin_mul_overflow(count, dimension, &count))
        throw Error(prefix + "shape " + format_shape(tensor.shape) + " has more than 2^64 elements");
    std::uint64_t size = 0;
    if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(dtype_size(tensor.dtype)), &size))
      throw Error(prefix + "shape " + format_shape(tensor.shape) + " of " +
                  std::string(to_string(tensor.dtype)) + " needs more than 2^64 bytes");
    if (tensor.end < tensor.begin)
      throw Error(prefix + "data_offsets [" + std::to_string(tensor.begin) + ", " +
                  std::to_string(tensor.end) + "] end before they begin");
    if (tensor.end - tensor.begin != size)
      throw Error(prefix + "data_offsets [" + std::to_string(tensor.begin) + ", " +
                  std::to_string(tensor.end) + "] span " + std::to_string(tensor.end - tensor.begin) +
                  " bytes, but " + std::string(to_string(tensor.dtype)) + " of shape " +
                  format_shape(tensor.shape) + " takes " + std::to_string(size));
    if (tensor.end > data_size_)
      throw Error(prefix + "data_offsets [" + std::to_string(tensor.begin) + ", " +
                  std::to_string(tensor.end) + "] reach past the end of the data (" +
                  std::to_string(data_size_) + " bytes)");
  }

  // The spans must tile the data area: sorted by offset, each begins where the previous ended.
  tensors_ = std::move(reader.tensors);
  std::stable_sort(tensors_.begin(), tensors_.end(), [](const Tensor& a, const Tensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expected = 0;
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& tensor = tensors_[i];
    if (tensor.begin > expected)
      throw Error("bytes " + std::to_string(expected) + " to " + std::to_string(tensor.begin) +
                  " of the data belong to no tensor (a gap before tensor " + quote(tensor.name) + ")");
    if (tensor.begin < expected)
      throw Error("tensor " + quote(tensor.name) + " overlaps tensor " + quote(tensors_[i - 1].name) +
                  " (its data begins at byte " + std::to_string(tensor.begin) + ", before byte " +
                  std::to_string(expected) + " where the other ends)");
    expected = tensor.end;
  }
  if (expected != data_size_)
    throw Error("bytes " + std::to_string(expected) + " to " + std::to_string(data_size_) +
                " at the end of the data belong to no tensor");
  metadata_ = std::move(reader.metadata);
}

const SafetensorsFile::Tensor* SafetensorsFile::find(std::string_view tensor_name) const {
  const auto found = index_.find(tensor_name);
  return found == index_.end() ? nullptr : &tensors_[found->second];
}

std::span<const std::byte> SafetensorsFile::bytes(const Tensor& tensor) const {
  return {data_ + tensor.begin, static_cast<std::size_t>(tensor.end - tensor.begin)};
}

namespace {

// The whole pages inside [begin, end) of a mapping, or an empty range.
std::pair<std::byte*, std::size_t> pages_within(const std::byte* begin, const std::byte* end, bool outward) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto first = reinterpret_cast<std::uintptr_t>(begin), last = reinterpret_cast<std::uintptr_t>(end);
  if (outward) {
    first -= first % page;
    last += (page - last % page) % page;
  } else {
    first += (page - first % page) % page;
    last -= last % page;
  }
  if (last <= first) return {nullptr, 0};
  return {reinterpret_cast<std::byte*>(first), last - first};
}

}  // namespace

void SafetensorsFile::prefault(const Tensor& tensor) const {
  if (!mapping_ || tensor.end == tensor.begin) return;
  const auto [address, length] = pages_within(data_ + tensor.begin, data_ + tensor.end, /*outward=*/true);
#ifdef MADV_POPULATE_READ
  if (length > 0 && ::madvise(address, length, MADV_POPULATE_READ) == 0) return;
#endif
  if (length > 0) ::madvise(address, length, MADV_WILLNEED);  // older kernels: read ahead at least
}

FloatTensor SafetensorsFile::to_float(const Tensor& tensor) const {
  FloatTensor result;
  result.shape_ = tensor.shape;
  result.size_ = static_cast<std::size_t>(tensor.element_count());
  const std::byte* source = data_ + tensor.begin;
  const auto convert = [&](auto&& fill) {
    auto values = std::make_shared<std::vector<float>>(result.size_);
    fill(values->data());
    result.data_ = values->data();
    result.storage_ = std::move(values);
  };
  switch (tensor.dtype) {
    case SafetensorsDtype::F32:
      if (reinterpret_cast<std::uintptr_t>(source) % alignof(float) == 0 || result.size_ == 0) {
        result.data_ = reinterpret_cast<const float*>(source);
        result.storage_ = mapping_;
        result.zero_copy_ = true;
      } else {
        convert([&](float* out) { std::memcpy(out, source, result.size_ * sizeof(float)); });
      }
      break;
    case SafetensorsDtype::F16:
      convert([&](float* out) { convert_half(source, out, result.size_); });
      break;
    case SafetensorsDtype::BF16:
      convert([&](float* out) {
        for (std::size_t i = 0; i < result.size_; ++i) {
          std::uint16_t bits;
          std::memcpy(&bits, source + 2 * i, 2);
          out[i] = bfloat16_to_float(bits);
        }
      });
      break;
    default:
      throw Error(name_ + ": tensor " + quote(tensor.name) + " is " + std::string(to_string(tensor.dtype)) +
                  "; only F32, F16 and BF16 tensors can be read as floats");
  }
  if (!result.zero_copy_) release(tensor);  // read once
  return result;
}

void SafetensorsFile::release(const Tensor& tensor) const {
  if (!mapping_) return;  // the caller's memory (parse): its pages are not this file's to let go
  const auto [address, length] = pages_within(data_ + tensor.begin, data_ + tensor.end, /*outward=*/false);
  if (length > 0) ::madvise(address, length, MADV_DONTNEED);
}

}  // namespace attnscope
