#pragma once
// Safe writes, for every file AttnScope writes: results, exports, sessions.

#include <filesystem>
#include <string_view>

namespace attnscope {

// Writes `contents` to a temporary file beside `path`, flushes it and renames it into place, so a failed
// write never leaves `path` half-written or destroys what was there. Throws Error with the reason.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace attnscope
