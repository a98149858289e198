#pragma once
// Pieces shared by the model readers.

#include <cstddef>
#include <filesystem>
#include <string>

namespace attnscope::detail {

// The whole of a regular file of at most `limit` bytes; Error "NAME: problem" otherwise.
std::string read_small_file(const std::filesystem::path& path, const std::string& name, std::size_t limit);

}  // namespace attnscope::detail
